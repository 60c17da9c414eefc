package dev.flux.memory;

import dev.flux.AppendListeners;
import dev.flux.ExpectedVersion;
import dev.flux.EventData;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class InMemoryAppendListenerTest {
    private final InMemoryEventStore store = new InMemoryEventStore();

    @Test
    void listenersAreToldOfEveryAppendOnceItIsReadable() {
        List<Integer> logSizes = new ArrayList<>();
        store.onAppend(() -> logSizes.add(store.readAll(0, 100).size()));

        store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event(), event()));
        store.append("account-2", ExpectedVersion.NO_STREAM, List.of(event()));

        assertEquals(List.of(2, 3), logSizes);
    }

    @Test
    void aFailingListenerDoesNotMakeACommittedAppendLookFailed() {
        store.onAppend(() -> {
            throw new IllegalStateException("listener bug");
        });

        long version = store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event()));

        assertEquals(0, version);
        assertEquals(1, store.readAll(0, 10).size());
    }

    @Test
    void aRemovedListenerIsNotToldAnyMore() {
        List<String> calls = new ArrayList<>();
        Runnable remove = store.onAppend(() -> calls.add("told"));
        store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event()));

        remove.run();
        store.append("account-1", 0, List.of(event()));

        assertEquals(List.of("told"), calls);
    }

    @Test
    void aStreamListenerIsToldOnlyOfTheStreamsItWantsAndOneThatFailsToAnswerStopsNoOther() {
        List<String> calls = new ArrayList<>();
        store.onAppend(new AppendListeners.StreamListener() {
            @Override
            public boolean wants(String streamId) {
                throw new IllegalStateException("listener bug");
            }

            @Override
            public void run() {
                calls.add("told the broken one");
            }
        });
        Runnable remove = store.onAppend(new AppendListeners.StreamListener() {
            @Override
            public boolean wants(String streamId) {
                return streamId.startsWith("order-");
            }

            @Override
            public void run() {
                calls.add("told of an order");
            }
        });
        store.onAppend(() -> calls.add("told of any"));

        store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event()));
        store.append("order-1", ExpectedVersion.NO_STREAM, List.of(event()));
        remove.run();
        store.append("order-1", 0, List.of(event()));

        assertEquals(List.of("told of any", "told of an order", "told of any", "told of any"), calls);
        assertEquals(3, store.readAll(0, 10).size(), "every append stands");
    }

    private static EventData event() {
        return EventData.of("Credited", "{}".getBytes(StandardCharsets.UTF_8), Map.of());
    }
}
