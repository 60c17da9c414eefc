package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Subscription.Builder#reset(String)} on an offset store that outlives the process: once per id. */
@Timeout(60)
class XodusSubscriptionResetTest {
    @TempDir
    Path dir;

    @Test
    void aResetWithAnIdIsNotDoneAgainAfterTheProcessRestarts() throws Exception {
        List<Long> handled = Collections.synchronizedList(new ArrayList<>());
        try (XodusEventStore events = new XodusEventStore(dir.resolve("events"))) {
            append(events, 2);
            try (XodusOffsetStore offsets = new XodusOffsetStore(dir.resolve("offsets"))) {
                offsets.save("balances", 2);    // where the previous release got
                runUntil(events, offsets, 2, handled);
            }
            append(events, 1);

            try (XodusOffsetStore reopened = new XodusOffsetStore(dir.resolve("offsets"))) {   // the process restarted
                runUntil(events, reopened, 3, handled);
                assertEquals(3, reopened.load("balances"));
            }
        }

        assertEquals(List.of(1L, 2L, 3L), handled, "reset once, then read on from the stored offset");
    }

    private static void runUntil(XodusEventStore events, XodusOffsetStore offsets, long position, List<Long> handled)
            throws InterruptedException {
        try (Subscription subscription = Subscription.builder(EventSource.all(events))
                .name("balances", offsets)
                .reset("release 2")
                .onRecorded(recorded -> handled.add(recorded.position()))
                .start()) {
            assertTrue(subscription.awaitPosition(position, Duration.ofSeconds(10)), subscription::toString);
        }
    }

    private static void append(XodusEventStore events, int count) {
        for (int i = 0; i < count; i++) {
            events.append("Account-1", ExpectedVersion.ANY, List.of(
                    EventData.of("AccountCredited", "{\"amount\":1}".getBytes(StandardCharsets.UTF_8), Map.of())));
        }
    }
}
