package dev.flux.memory;

import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.ForwardingEventStore;
import dev.flux.FluxException;
import dev.flux.Metadata;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;
import dev.flux.projection.Projector;
import dev.flux.serialization.EventDecodingException;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.test.OneEventPerReadStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProjectorTest {
    record Credited(long amount) { }

    record Debited(long amount) { }

    record Renamed(String name) { }

    record Summary(long balance, int events) {
        Summary plus(long amount) {
            return new Summary(balance + amount, events + 1);
        }
    }

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final JacksonEventSerializer serializer =
            new JacksonEventSerializer(EventTypes.of(Credited.class, Debited.class, Renamed.class));

    private final Projector<Summary> summary = Projector.from(new Summary(0, 0), serializer)
            .on(Credited.class, (s, e) -> s.plus(e.amount()))
            .on(Debited.class, (s, e) -> s.plus(-e.amount()));

    @AfterEach
    void close() {
        store.close();
    }

    private void append(String streamId, Object... events) {
        store.append(streamId, ExpectedVersion.ANY, java.util.Arrays.stream(events)
                .map(e -> serializer.serialize(e, Map.of())).toList());
    }

    @Test
    void projectsAStreamFromTheInitialStateSkippingTypesWithoutAReducer() {
        append("Account-1", new Credited(100), new Renamed("savings"), new Debited(30));
        append("Account-2", new Credited(7));

        assertEquals(new Summary(70, 2), summary.projectStream(store, "Account-1"));
        assertEquals(new Summary(0, 0), summary.projectStream(store, "Account-3"));
    }

    @Test
    void projectsACategoryInGlobalOrderAcrossPages() {
        for (int i = 0; i < 2500; i++) {
            append("Account-" + (i % 7), new Credited(2));
            append("Order-" + i, new Debited(1000));
        }

        assertEquals(new Summary(5000, 2500), summary.projectCategory(new OneEventPerReadStore(store), "Account"));
        assertEquals(new Summary(5000, 2500), summary.projectCategory(store, "Account"));
    }

    @Test
    void anOrderSensitiveProjectionSeesEventsInOrder() {
        append("Account-1", new Renamed("a"), new Renamed("b"));
        append("Account-2", new Renamed("c"));
        Projector<String> names = Projector.from("", serializer).on(Renamed.class, (s, e) -> s + e.name());

        assertEquals("abc", names.projectCategory(store, "Account"));
    }

    @Test
    void onReturnsANewProjectorAndLeavesThisOneAlone() {
        Projector<Long> empty = Projector.from(0L);
        Projector<Long> credits = empty.on(Credited.class, (s, e) -> s + e.amount());
        append("Account-1", new Credited(5));

        assertEquals(0L, empty.projectStream(store, "Account-1"));
        assertEquals(5L, credits.projectStream(store, "Account-1"));
        assertEquals(5L, credits.applyEvent(0L, new Credited(5)));
        assertSame(0L, empty.initial());
    }

    @Test
    void aCorruptEventFailsNamingStreamVersionAndType() {
        store.append("Account-1", ExpectedVersion.ANY, List.of(EventData.of("Credited",
                "{\"amount\":".getBytes(StandardCharsets.UTF_8), Map.of())));

        EventDecodingException e = assertThrows(EventDecodingException.class, () -> summary.projectStream(store, "Account-1"));
        assertTrue(e.getMessage().contains("Account-1@0") && e.getMessage().contains("Credited"), e.getMessage());
    }

    @Test
    void aReducerReturningNullIsReportedWithTheEvent() {
        append("Account-1", new Credited(5));
        Projector<Summary> broken = Projector.from(new Summary(0, 0), serializer).on(Credited.class, (s, e) -> null);

        FluxException e = assertThrows(FluxException.class, () -> broken.projectStream(store, "Account-1"));
        assertTrue(e.getMessage().contains("Credited") && e.getMessage().contains("Account-1@0"), e.getMessage());
    }

    @Test
    void aReducerReturningNullForATypeWithUpcastersIsReportedWithTheEventToo() {
        JacksonEventSerializer upcasting = new JacksonEventSerializer(new EventTypes()
                .register("Credited", Credited.class, 2).upcaster("Credited", 1, json -> json));
        // Stored at version 1 (no schema version in its metadata), so the upcaster reads it.
        store.append("Account-1", ExpectedVersion.ANY, List.of(EventData.of("Credited",
                "{\"amount\":5}".getBytes(StandardCharsets.UTF_8), Map.of())));
        Projector<Summary> broken = Projector.from(new Summary(0, 0), upcasting).on(Credited.class, (s, e) -> null);

        FluxException e = assertThrows(FluxException.class, () -> broken.projectStream(store, "Account-1"));
        assertTrue(e.getMessage().contains("Credited") && e.getMessage().contains("Account-1@0"), e.getMessage());
    }

    @Test
    void aTypeUpcastersReadIsLeftUndecodedWithoutAReducerWhenStoredAtAVersionTheyDoNot() {
        // A read side sharing the writer's upcaster of "Debited" (from v1) but without the Debited class.
        JacksonEventSerializer readSide = new JacksonEventSerializer(EventTypes.of(Credited.class)
                .upcaster("Debited", 1, json -> json));
        store.append("Account-1", ExpectedVersion.ANY, List.of(
                new EventData(UUID.randomUUID(), "Debited", "{\"amount\":1}".getBytes(StandardCharsets.UTF_8),
                        Map.of(Metadata.SCHEMA_VERSION, "2")),
                readSide.serialize(new Credited(4), Map.of())));

        Projector<Summary> credits = Projector.from(new Summary(0, 0), readSide).on(Credited.class, (s, e) -> s.plus(e.amount()));

        assertEquals(new Summary(4, 1), credits.projectStream(store, "Account-1"));
    }

    @Test
    @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aReaderThatRepeatsTheEventAtItsCursorFailsTheProjectionInsteadOfCountingItTwice() {
        append("Account-1", new Credited(100), new Credited(5));
        EventReader inclusive = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
                return super.readCategory(category, Math.max(0, afterPosition - 1), maxCount);   // "after" read as "from"
            }
        };

        FluxException e = assertThrows(FluxException.class, () -> summary.projectCategory(inclusive, "Account"));

        assertTrue(e.getMessage().contains("category 'Account'") && e.getMessage().contains("Account-1@1")
                && e.getMessage().contains("after position 2") && e.getMessage().contains("out of order"), e.getMessage());
    }

    @Test
    @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aReaderThatIgnoresTheVersionAskedForFailsTheProjectionInsteadOfFoldingTheStreamAgain() {
        append("Account-1", new Credited(100), new Debited(30));
        EventStore fromTheStart = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                return super.readStream(streamId, 0, maxCount);
            }
        };

        FluxException e = assertThrows(FluxException.class,
                () -> summary.projectStream(new OneEventPerReadStore(fromTheStart), "Account-1"));

        assertTrue(e.getMessage().contains("stream 'Account-1'") && e.getMessage().contains("Account-1@0")
                && e.getMessage().contains("from version 1"), e.getMessage());
        assertEquals(new Summary(70, 2), summary.projectStream(store, "Account-1"));
    }

    @Test
    void aReaderThatAnswersAnotherStreamsEventsFailsTheProjectionInsteadOfFoldingThemIn() {
        append("Account-a", new Credited(100));
        append("Account-A", new Credited(7));
        EventReader caseBlind = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                // ids matched case aside, as a case-insensitive collation would
                return super.readStream(StreamName.category(streamId) + "-" + StreamName.id(streamId).toUpperCase(
                        java.util.Locale.ROOT), fromVersion, maxCount);
            }
        };

        FluxException e = assertThrows(FluxException.class, () -> summary.projectStream(caseBlind, "Account-a"));

        assertTrue(e.getMessage().contains("stream 'Account-a'") && e.getMessage().contains("Account-A@0")
                && e.getMessage().contains("not of stream 'Account-a'"), e.getMessage());
        assertEquals(new Summary(100, 1), summary.projectStream(store, "Account-a"));
    }

    @Test
    void aReaderThatAnswersAnotherCategorysEventsFailsTheProjectionInsteadOfFoldingThemIn() {
        append("Account-1", new Credited(100));
        append("AccountArchive-1", new Credited(7));
        append("Accounts", new Credited(3));
        EventReader prefixMatching = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
                return store.readAll(afterPosition, maxCount).stream()
                        .filter(event -> event.streamId().startsWith(category)).toList();
            }
        };

        FluxException e = assertThrows(FluxException.class, () -> summary.projectCategory(prefixMatching, "Account"));

        assertTrue(e.getMessage().contains("category 'Account'") && e.getMessage().contains("AccountArchive-1@0")
                && e.getMessage().contains("not of category 'Account'"), e.getMessage());
        assertEquals(new Summary(100, 1), summary.projectCategory(store, "Account"));
        assertEquals(new Summary(3, 1), summary.projectCategory(store, "Accounts"), "a stream without '-' is its own category");
    }

    @Test
    void aReducerThatThrowsIsReportedWithTheEventItThrewOn() {
        append("Account-1", new Credited(100), new Debited(30));
        append("Account-2", new Debited(700));
        IllegalStateException overdrawn = new IllegalStateException("overdrawn");
        Projector<Summary> strict = Projector.from(new Summary(0, 0), serializer)
                .on(Credited.class, (s, e) -> s.plus(e.amount()))
                .on(Debited.class, (s, e) -> {
                    if (e.amount() > s.balance()) {
                        throw overdrawn;
                    }
                    return s.plus(-e.amount());
                });

        FluxException e = assertThrows(FluxException.class, () -> strict.projectCategory(store, "Account"));

        assertSame(overdrawn, e.getCause());
        assertTrue(e.getMessage().contains("Debited") && e.getMessage().contains("Account-2@0")
                && e.getMessage().contains("position 3") && e.getMessage().contains("overdrawn"), e.getMessage());
    }

    @Test
    void aReducerOfAnInterfaceIsRefusedForItWouldNeverRun() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Projector.from(0L).on(Runnable.class, (total, r) -> total));

        assertTrue(e.getMessage().contains(Runnable.class.getName()) && e.getMessage().contains("concrete class"), e.getMessage());
    }

    @Test
    void badArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Projector.from(null));
        assertThrows(IllegalArgumentException.class, () -> summary.on(Credited.class, (s, e) -> s));
        assertThrows(IllegalArgumentException.class, () -> summary.on(null, (s, e) -> s));
        assertThrows(IllegalArgumentException.class, () -> summary.projectStream(null, "Account-1"));
        assertThrows(IllegalArgumentException.class, () -> summary.projectStream(store, " "));
        assertThrows(IllegalArgumentException.class, () -> summary.projectCategory(store, "Account-1"));
        assertThrows(IllegalArgumentException.class, () -> summary.applyEvent(new Summary(0, 0), null));
        assertThrows(IllegalArgumentException.class, () -> summary.apply(new Summary(0, 0), null));
    }
}
