package dev.flux.memory;

import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.ForwardingEventStore;
import dev.flux.Metadata;
import dev.flux.RecordedEvent;
import dev.flux.serialization.EventDecodingException;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.serialization.Upcasted;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.FailureHandler;
import dev.flux.subscription.OffsetStore;
import dev.flux.subscription.Subscription;
import dev.flux.subscription.SubscriptionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class SubscriptionTest {
    record Credited(long amount) { }

    record Debited(long amount) { }

    record Unhandled(String note) { }

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final InMemoryOffsetStore offsets = new InMemoryOffsetStore();
    private final JacksonEventSerializer serializer =
            new JacksonEventSerializer(EventTypes.of(Credited.class, Debited.class, Unhandled.class));
    private final List<Subscription> started = new ArrayList<>();

    @AfterEach
    void stopAll() {
        started.forEach(s -> s.stop(Duration.ofSeconds(5)));
        store.close();
    }

    private Subscription start(Subscription.Builder builder) {
        Subscription subscription = builder.build();
        started.add(subscription);
        return subscription.start();
    }

    private long append(String streamId, Object... events) {
        List<EventData> data = new ArrayList<>();
        for (Object event : events) {
            data.add(serializer.serialize(event, Map.of()));
        }
        store.append(streamId, ExpectedVersion.ANY, data);
        return store.lastPosition();
    }

    private static List<Long> positions(List<RecordedEvent> events) {
        List<Long> positions = new ArrayList<>();
        events.forEach(e -> positions.add(e.position()));
        return positions;
    }

    private List<Long> allPositions() {
        return positions(store.readAll(0, Integer.MAX_VALUE));
    }

    /** The store's whole log, each read made by {@code read} (a source with a fault of its own). */
    private EventSource logReadThrough(ReadThroughSource.Read read) {
        return logSource(read, null);
    }

    /**
     * The store's whole log, each read made by {@code read}, telling of appends through {@code onAppend} (the
     * interface's default when null).
     */
    private EventSource logSource(ReadThroughSource.Read read, java.util.function.UnaryOperator<Runnable> onAppend) {
        return new ReadThroughSource(store, read, onAppend, "the store's log, read through the test");
    }

    private void awaitPosition(Subscription subscription, long position) throws InterruptedException {
        assertTrue(subscription.awaitPosition(position, WAIT),
                () -> subscription + " did not reach " + position + "; last error " + subscription.lastError());
    }

    @Test
    void backfillDeliversTheWholeLogInOrderThenFollowsIt() throws Exception {
        for (int i = 0; i < 30; i++) {
            append("Account-" + (i % 3), new Credited(i));
        }
        List<RecordedEvent> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).batchSize(7).onRecorded(seen::add));
        awaitPosition(subscription, store.lastPosition());

        long last = append("Account-9", new Debited(1), new Debited(2));
        awaitPosition(subscription, last);

        assertEquals(allPositions(), positions(seen));
        assertEquals(last, subscription.position());
    }

    @Test
    void startAtEndDeliversOnlyNewEventsAndStoresThatStartAtOnce() throws Exception {
        long before = append("Account-1", new Credited(1), new Credited(2));
        List<RecordedEvent> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store))
                .name("new-only", offsets).startAtEnd().onRecorded(seen::add));
        assertTrue(waitUntil(() -> offsets.find("new-only").isPresent()));
        assertEquals(before, offsets.load("new-only"));

        long last = append("Account-2", new Credited(3));
        awaitPosition(subscription, last);

        assertEquals(List.of(last), positions(seen));
    }

    @Test
    void aDurableSubscriptionResumesAfterItsStoredOffset() throws Exception {
        long first = append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription one = start(Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(one, first);
        assertTrue(one.stop(WAIT));
        assertEquals(first, offsets.load("balances"));

        long last = append("Account-1", new Credited(4));
        Subscription two = start(Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(two, last);

        assertEquals(allPositions(), seen);
    }

    @Test
    void aDurableNameRunsOncePerOffsetStoreAndIsFreeAgainAfterTheStop() throws Exception {
        long first = append("Account-1", new Credited(1), new Credited(2));
        Subscription one = start(Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .onRecorded(e -> { }));
        awaitPosition(one, first);
        Subscription twin = Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .onRecorded(e -> { }).build();
        started.add(twin);

        IllegalStateException refused = assertThrows(IllegalStateException.class, twin::start);

        assertTrue(refused.getMessage().contains("'balances'") && refused.getMessage().contains("running"),
                refused.getMessage());
        assertEquals(Subscription.State.NEW, twin.state(), "the refused one is left unstarted");
        InMemoryOffsetStore otherStore = new InMemoryOffsetStore();
        Subscription elsewhere = start(Subscription.builder(EventSource.all(store)).name("balances", otherStore)
                .onRecorded(e -> { }));
        Subscription otherName = start(Subscription.builder(EventSource.all(store)).name("audit", offsets)
                .onRecorded(e -> { }));
        awaitPosition(elsewhere, first);
        awaitPosition(otherName, first);

        assertTrue(one.stop(WAIT));
        long last = append("Account-1", new Credited(3));
        twin.start();
        awaitPosition(twin, last);
        assertTrue(twin.stop(WAIT));
        assertEquals(last, offsets.load("balances"));
    }

    @Test
    void aSubscriptionStoppedBeforeItRanOrRefusedByItsExecutorFreesItsName() throws Exception {
        Executor refusing = task -> {
            throw new RejectedExecutionException("pool full");
        };
        Subscription rejected = Subscription.builder(EventSource.all(store)).name("n", offsets).executor(refusing)
                .onRecorded(e -> { }).build();
        assertThrows(FluxException.class, rejected::start);
        Subscription neverRun = Subscription.builder(EventSource.all(store)).name("n", offsets).executor(task -> { })
                .onRecorded(e -> { }).build().start();
        assertTrue(neverRun.stop(WAIT));
        Subscription unstarted = Subscription.builder(EventSource.all(store)).name("n", offsets)
                .onRecorded(e -> { }).build();
        Subscription running = start(Subscription.builder(EventSource.all(store)).name("n", offsets)
                .onRecorded(e -> { }));
        unstarted.stop();   // stopping one that never started must not free the name the running one holds

        assertThrows(IllegalStateException.class, () -> start(Subscription.builder(EventSource.all(store))
                .name("n", offsets).onRecorded(e -> { })));
        assertTrue(running.stop(WAIT));
    }

    @Test
    void aStoredOffsetWinsOverStartAtEnd() throws Exception {
        long first = append("Account-1", new Credited(1));
        offsets.save("s", 0);
        long last = append("Account-1", new Credited(2));
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("s", offsets).startAtEnd()
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(subscription, last);

        assertEquals(List.of(first, last), seen);
    }

    @Test
    void resetForgetsTheStoredOffsetAndStartsOver() throws Exception {
        long last = append("Account-1", new Credited(1), new Credited(2));
        offsets.save("replay", last);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("replay", offsets).reset()
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(subscription, last);

        assertEquals(allPositions(), seen);
    }

    @Test
    void aResetWithAnIdIsDoneOnceForThatIdAndAgainForANewOne() throws Exception {
        long last = append("Account-1", new Credited(1), new Credited(2));
        offsets.save("replay", last);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription first = start(Subscription.builder(EventSource.all(store)).name("replay", offsets).reset("release 2")
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(first, last);
        assertTrue(first.stop(WAIT));
        assertEquals(allPositions(), seen, "the first start with the id resets");

        long next = append("Account-1", new Credited(3));
        Subscription again = start(Subscription.builder(EventSource.all(store)).name("replay", offsets).reset("release 2")
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(again, next);
        assertTrue(again.stop(WAIT));
        assertEquals(allPositions(), seen, "a restart with the same id reads on from the stored offset");

        Subscription newId = start(Subscription.builder(EventSource.all(store)).name("replay", offsets).reset("release 3")
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(newId, next);
        assertTrue(newId.stop(WAIT));
        List<Long> twice = new ArrayList<>(allPositions());
        twice.addAll(allPositions());
        assertEquals(twice, seen, "a new id resets again");
        assertEquals(next, offsets.load("replay"));
    }

    @Test
    void aNameThatEndsWhereResetRecordsItsIdsIsRefused() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Subscription.builder(EventSource.all(store)).name("replay#reset", offsets));
        assertTrue(refused.getMessage().contains("'replay#reset'") && refused.getMessage().contains("reset(id)"),
                refused.getMessage());
        Subscription.builder(EventSource.all(store)).name("replay#reset-audit", offsets);   // only the very end is kept
    }

    @Test
    void aHandlerThatFailsOnceStopWasCalledIsNeitherSkippedNorAFailure() throws Exception {
        long first = append("Account-1", new Credited(1));
        long second = append("Account-1", new Credited(2));
        CountDownLatch inHandler = new CountDownLatch(1);
        CountDownLatch readModelClosed = new CountDownLatch(1);
        AtomicInteger judged = new AtomicInteger();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .maxRetries(0)
                .onFailure((event, error, attempts) -> {
                    judged.incrementAndGet();
                    return FailureHandler.Action.SKIP;
                })
                .onRecorded(recorded -> {
                    if (recorded.position() == second) {
                        inHandler.countDown();
                        readModelClosed.await();    // the service shuts its read model down while this runs
                        throw new IllegalStateException("the read model is closed");
                    }
                }));
        assertTrue(inHandler.await(10, TimeUnit.SECONDS));

        assertFalse(subscription.stop(Duration.ofMillis(1)), "the handler still runs");
        readModelClosed.countDown();
        assertTrue(subscription.stop(WAIT));

        assertEquals(Subscription.State.STOPPED, subscription.state(), String.valueOf(subscription.failure()));
        assertEquals(0, judged.get(), "the failure hook never decided to skip it");
        assertEquals(first, offsets.load("balances"), "the event that failed comes again after a restart");
    }

    @Test
    void pauseHoldsDeliveryAndResumeCatchesUp() throws Exception {
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).onRecorded(e -> seen.add(e.position())));
        long first = append("Account-1", new Credited(1));
        awaitPosition(subscription, first);

        subscription.pause();
        assertEquals(Subscription.State.PAUSED, subscription.state());
        long last = append("Account-1", new Credited(2));
        assertFalse(subscription.awaitPosition(last, Duration.ofMillis(300)), "a paused subscription must not deliver");
        assertEquals(List.of(first), seen);

        subscription.resume();
        awaitPosition(subscription, last);
        assertEquals(List.of(first, last), seen);
        assertEquals(Subscription.State.RUNNING, subscription.state());
    }

    @Test
    void stopWaitsForTheEventInHandAndStoresItsOffset() throws Exception {
        long first = append("Account-1", new Credited(1), new Credited(2));
        CountDownLatch inHandler = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("slow", offsets)
                .checkpointEvery(1000).checkpointInterval(Duration.ofHours(1))
                .onRecorded(e -> {
                    inHandler.countDown();
                    release.await();
                    seen.add(e.position());
                }));
        assertTrue(inHandler.await(10, TimeUnit.SECONDS));

        ExecutorService stopper = Executors.newSingleThreadExecutor();
        try {
            Future<Boolean> stopped = stopper.submit(() -> subscription.stop(WAIT));
            assertThrows(java.util.concurrent.TimeoutException.class, () -> stopped.get(200, TimeUnit.MILLISECONDS),
                    "stop must wait for the event in hand");
            release.countDown();
            assertTrue(stopped.get(10, TimeUnit.SECONDS));
        } finally {
            stopper.shutdownNow();
        }

        assertEquals(Subscription.State.STOPPED, subscription.state());
        assertEquals(List.of(first - 1), seen, "stop ends after the event in hand, before the next");
        assertEquals(first - 1, offsets.load("slow"));
    }

    @Test
    void closingASubscriptionStopsItSoThatItsNameStartsAgainFromItsOffset() throws Exception {
        long last = append("Account-1", new Credited(1), new Credited(2));
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription.Builder builder = Subscription.builder(EventSource.all(store)).name("closed", offsets)
                .onRecorded(e -> seen.add(e.position()));

        Subscription first;
        try (Subscription subscription = builder.start()) {
            first = subscription;
            awaitPosition(subscription, last);
        }
        long more = append("Account-1", new Credited(3));
        Subscription second = start(builder);   // the name is free again: no IllegalStateException
        awaitPosition(second, more);

        assertEquals(Subscription.State.STOPPED, first.state());
        assertEquals(List.of(last - 1, last, more), seen, "the second went on from the offset the first stored");
    }

    @Test
    void aFailingHandlerIsRetriedOnTheSameEventInOrder() throws Exception {
        long last = append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        AtomicInteger failuresLeft = new AtomicInteger(2);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store))
                .errorDelay(Duration.ofMillis(5), Duration.ofMillis(20))
                .onRecorded(Credited.class, (e, recorded) -> {
                    if (e.amount() == 2 && failuresLeft.getAndDecrement() > 0) {
                        throw new IllegalStateException("read model is down");
                    }
                    seen.add(e.amount());
                }));
        awaitPosition(subscription, last);

        assertEquals(List.of(1L, 2L, 3L), seen);
        assertEquals("read model is down", subscription.lastError().getMessage());
    }

    @Test
    void byDefaultASubscriptionReadsTwoHundredFiftySixEventsAtATimeAndRetriesAFailingEventTenTimes() throws Exception {
        for (int i = 0; i < 300; i++) {
            append("Account-" + i, new Credited(i == 299 ? -1 : i));
        }
        List<Integer> asked = new CopyOnWriteArrayList<>();
        EventSource watched = logReadThrough((real, after, maxCount) -> {
            asked.add(maxCount);
            return real.read(after, maxCount);
        });
        AtomicInteger attempts = new AtomicInteger();
        Subscription subscription = start(Subscription.builder(watched).errorDelay(Duration.ofMillis(1), Duration.ofMillis(1))
                .on(Credited.class, e -> {
                    if (e.amount() < 0) {
                        attempts.incrementAndGet();
                        throw new IllegalArgumentException("cannot apply " + e.amount());
                    }
                }));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED));
        assertEquals(256, asked.get(0), "the README's default batch size");
        assertEquals(11, attempts.get(), "the first attempt and the README's default of 10 retries");
    }

    @Test
    void pastItsRetriesAnEventStopsTheSubscriptionByDefaultAndTheOffsetStaysBeforeIt() throws Exception {
        long first = append("Account-1", new Credited(1));
        append("Account-1", new Credited(2), new Credited(3));
        AtomicInteger attempts = new AtomicInteger();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("strict", offsets)
                .maxRetries(2).errorDelay(Duration.ofMillis(1), Duration.ofMillis(5))
                .on(Credited.class, e -> {
                    if (e.amount() == 2) {
                        attempts.incrementAndGet();
                        throw new IllegalArgumentException("cannot apply 2");
                    }
                }));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED));
        SubscriptionException failure = subscription.failure();
        assertNotNull(failure);
        assertTrue(failure.getMessage().contains("Credited at Account-1@1"), failure.getMessage());
        assertTrue(failure.getMessage().contains("3 attempts"), failure.getMessage());
        assertInstanceOf(IllegalArgumentException.class, failure.getCause());
        assertEquals(3, attempts.get());
        assertEquals(first, subscription.position());
        assertEquals(first, offsets.load("strict"));
    }

    @Test
    void theFailureHookCanSkipAndIsToldWhatItSkips() throws Exception {
        append("Account-1", new Credited(1), new Credited(2));
        long last = append("Account-1", new Credited(3));
        List<String> reported = new CopyOnWriteArrayList<>();
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store))
                .maxRetries(1).errorDelay(Duration.ofMillis(1), Duration.ofMillis(5))
                .onFailure((event, error, attempts) -> {
                    reported.add(event.streamId() + "@" + event.version() + " " + error.getMessage() + " x" + attempts);
                    return FailureHandler.Action.SKIP;
                })
                .on(Credited.class, e -> {
                    if (e.amount() == 2) {
                        throw new IllegalStateException("poison");
                    }
                    seen.add(e.amount());
                }));
        awaitPosition(subscription, last);

        assertEquals(List.of("Account-1@1 poison x2"), reported);
        assertEquals(List.of(1L, 3L), seen);
        assertEquals(Subscription.State.RUNNING, subscription.state());
    }

    @Test
    void aFailureHookThatAnswersNullStopsTheSubscriptionSayingSo() throws Exception {
        long first = append("Account-1", new Credited(1));
        append("Account-1", new Credited(2));
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("hook", offsets)
                .maxRetries(0).onFailure((event, error, attempts) -> null)
                .on(Credited.class, e -> {
                    if (e.amount() == 2) {
                        throw new IllegalStateException("poison");
                    }
                }));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED), subscription::toString);
        Throwable cause = subscription.failure().getCause();
        assertEquals("poison", cause.getMessage());
        assertEquals(1, cause.getSuppressed().length, "the hook's null is reported with the failure");
        assertTrue(cause.getSuppressed()[0].getMessage().contains("failure hook returned null"),
                cause.getSuppressed()[0].getMessage());
        assertEquals(first, offsets.load("hook"), "not skipped");
    }

    @Test
    void typedHandlersGetDecodedEventsAndUnhandledTypesStillMoveTheOffset() throws Exception {
        append("Account-1", new Credited(5), new Unhandled("skip me"), new Debited(2));
        long last = append("Account-2", new Unhandled("last"));
        List<String> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("typed", offsets)
                .onRecorded(Credited.class, (e, recorded) -> seen.add("+" + e.amount() + " " + recorded.streamId()))
                .on(Debited.class, e -> seen.add("-" + e.amount())));
        awaitPosition(subscription, last);
        subscription.stop();

        assertEquals(List.of("+5 Account-1", "-2"), seen);
        assertEquals(last, offsets.load("typed"));
    }

    @Test
    void anUnregisteredTypeIsNeverDecodedEvenWhenItsBodyIsNotJson() throws Exception {
        store.append("Account-1", ExpectedVersion.ANY, List.of(EventData.of("SomethingElse",
                "not json at all".getBytes(StandardCharsets.UTF_8), Map.of())));
        long last = append("Account-1", new Credited(7));
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).on(Credited.class, e -> seen.add(e.amount())));
        awaitPosition(subscription, last);

        assertEquals(List.of(7L), seen);
    }

    @Test
    void aSubscriptionWithOnlyARawHandlerNeverDecodesEvenTypesThatUpcastersRead() throws Exception {
        EventTypes evolving = EventTypes.of(Credited.class).upcaster("Debited", 1, json -> json);
        store.append("Account-1", ExpectedVersion.ANY, List.of(
                // a type read by an upcaster but with no class here, at a version past it, and a body not JSON
                new EventData(java.util.UUID.randomUUID(), "Debited", "{\"amount\":1}".getBytes(StandardCharsets.UTF_8),
                        Map.of("schema_version", "2")),
                new EventData(java.util.UUID.randomUUID(), "Debited", "not json".getBytes(StandardCharsets.UTF_8), Map.of())));
        long last = store.lastPosition();
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription forwarder = start(Subscription.builder(EventSource.all(store))
                .serializer(new JacksonEventSerializer(evolving)).maxRetries(0)
                .onRecorded(recorded -> seen.add(recorded.position())));

        awaitPosition(forwarder, last);

        assertEquals(allPositions(), seen, "each raw event once, none decoded");
        assertEquals(Subscription.State.RUNNING, forwarder.state());
    }

    @Test
    void aTypedSubscriptionLeavesUndecodedATypeUpcastersReadWhenStoredAtAVersionTheyDoNot() throws Exception {
        // A read side sharing the writer's upcaster of "Debited" (from v1) but handling no Debited, whose class it
        // lacks: Debited's current events (v2) are none of its business. (An old one could become a handled type,
        // so those are decoded; UpcastingTest covers them.)
        EventTypes readSide = EventTypes.of(Credited.class).upcaster("Debited", 1, json -> json);
        store.append("Account-1", ExpectedVersion.ANY, List.of(new EventData(java.util.UUID.randomUUID(), "Debited",
                "{\"amount\":1}".getBytes(StandardCharsets.UTF_8), Map.of(Metadata.SCHEMA_VERSION, "2"))));
        long last = append("Account-1", new Credited(3));
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store))
                .serializer(new JacksonEventSerializer(readSide)).maxRetries(0)
                .on(Credited.class, e -> seen.add(e.amount())));

        awaitPosition(subscription, last);

        assertEquals(List.of(3L), seen);
        assertEquals(Subscription.State.RUNNING, subscription.state());
    }

    @Test
    void anEventOfARenamedTypeStoredAtAVersionTheUpcastersSkipFailsRatherThanPassingItsHandlerBy() throws Exception {
        // "MoneyMoved" became Credited at v3 (upcasters from 1 and 3), its class gone; the one from 2 was forgotten.
        EventTypes types = new EventTypes().register("Credited", Credited.class, 4)
                .upcaster("MoneyMoved", 1, json -> json)
                .renamingUpcaster("MoneyMoved", 3, json -> new Upcasted("Credited", json));
        store.append("Account-1", ExpectedVersion.ANY, List.of(new EventData(java.util.UUID.randomUUID(), "MoneyMoved",
                "{\"amount\":1}".getBytes(StandardCharsets.UTF_8), Map.of(Metadata.SCHEMA_VERSION, "2"))));
        Subscription subscription = start(Subscription.builder(EventSource.all(store))
                .serializer(new JacksonEventSerializer(types)).maxRetries(0)
                .on(Credited.class, e -> { }));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED), subscription::toString);
        assertTrue(subscription.failure().getCause().getMessage().contains("MoneyMoved"), subscription.failure()::toString);
        assertEquals(0, subscription.position());
    }

    @Test
    void aCorruptEventOfAHandledTypeFailsNamingStreamVersionAndType() throws Exception {
        store.append("Account-1", ExpectedVersion.ANY, List.of(EventData.of("Credited",
                "{\"amount\": \"many\"}".getBytes(StandardCharsets.UTF_8), Map.of())));
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).maxRetries(0)
                .on(Credited.class, e -> { }));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED));
        EventDecodingException cause = assertInstanceOf(EventDecodingException.class, subscription.failure().getCause());
        assertTrue(cause.getMessage().contains("Account-1"), cause.getMessage());
        assertTrue(cause.getMessage().contains("Credited"), cause.getMessage());
        assertEquals(0, subscription.position());
    }

    @Test
    void categoryAndStreamSourcesDeliverOnlyTheirEvents() throws Exception {
        append("Account-1", new Credited(1));
        append("Order-1", new Unhandled("order"));
        append("Account-2", new Credited(2));
        long last = append("Account-1", new Credited(3));
        List<String> byCategory = new CopyOnWriteArrayList<>();
        List<String> byStream = new CopyOnWriteArrayList<>();
        Subscription category = start(Subscription.builder(EventSource.category(store, "Account"))
                .onRecorded(e -> byCategory.add(e.streamId() + "@" + e.version())));
        Subscription stream = start(Subscription.builder(EventSource.stream(store, "Account-1"))
                .onRecorded(e -> byStream.add(e.streamId() + "@" + e.version())));
        awaitPosition(category, last);
        awaitPosition(stream, 2); // the cursor of a stream source is version + 1

        assertEquals(List.of("Account-1@0", "Account-2@0", "Account-1@1"), byCategory);
        assertEquals(List.of("Account-1@0", "Account-1@1"), byStream);
    }

    @Test
    void aCategorySubscriptionReachesOnlyThePositionsOfItsOwnEvents() throws Exception {
        long account = append("Account-1", new Credited(1));
        long order = append("Order-1", new Unhandled("order"));
        Subscription category = start(Subscription.builder(EventSource.category(store, "Account"))
                .onRecorded(e -> { }));

        awaitPosition(category, account);

        assertFalse(category.awaitPosition(order, Duration.ofMillis(300)),
                "the store's last position is another category's, which a category source never passes");
        assertEquals(account, category.position());
    }

    @Test
    void aCaughtUpSubscriptionIsWokenByAnAppendNotByItsPoll() throws Exception {
        AtomicInteger reads = new AtomicInteger();
        EventStore counting = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
                List<RecordedEvent> read = super.readAll(afterPosition, maxCount);
                reads.incrementAndGet();
                return read;
            }
        };
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(counting))
                .pollInterval(Duration.ofHours(1)).onRecorded(e -> seen.add(e.position())));
        // It read the empty log, and parks for its hour-long poll.
        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.RUNNING && reads.get() > 0));

        long last = append("Account-1", new Credited(1));

        awaitPosition(subscription, last);
        assertEquals(List.of(last), seen);
    }

    @Test
    void caughtUpCategoryAndStreamSubscriptionsAreWokenOnlyByAppendsToWhatTheyRead() throws Exception {
        AtomicInteger categoryReads = new AtomicInteger();
        AtomicInteger streamReads = new AtomicInteger();
        EventStore counting = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
                categoryReads.incrementAndGet();
                return super.readCategory(category, afterPosition, maxCount);
            }

            @Override
            public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                streamReads.incrementAndGet();
                return super.readStream(streamId, fromVersion, maxCount);
            }
        };
        List<Long> byCategory = new CopyOnWriteArrayList<>();
        List<Long> byStream = new CopyOnWriteArrayList<>();
        Subscription category = start(Subscription.builder(EventSource.category(counting, "Account"))
                .pollInterval(Duration.ofHours(1)).onRecorded(e -> byCategory.add(e.position())));
        Subscription stream = start(Subscription.builder(EventSource.stream(counting, "Account-1"))
                .pollInterval(Duration.ofHours(1)).onRecorded(e -> byStream.add(e.position())));
        // Both read their empty sources, and park for their hour-long polls.
        assertTrue(waitUntil(() -> category.state() == Subscription.State.RUNNING
                && stream.state() == Subscription.State.RUNNING && categoryReads.get() > 0 && streamReads.get() > 0));
        int categoryReadsIdle = categoryReads.get();
        int streamReadsIdle = streamReads.get();

        // Other categories, another stream of the category (for the stream subscription), and a category
        // whose name merely begins with "Account".
        for (int i = 0; i < 200; i++) {
            append("Order-" + i, new Unhandled("order"));
            append("Accounting-" + i, new Unhandled("ledger"));
        }
        long otherAccount = append("Account-2", new Credited(2));
        awaitPosition(category, otherAccount);
        Thread.sleep(50);

        // A wake-up is a read or two (the events, then that nothing followed); a stray park return one more.
        assertTrue(categoryReads.get() - categoryReadsIdle <= 4, "the category subscription read again for Account-2's"
                + " append, not for the 400 appends to other categories: " + (categoryReads.get() - categoryReadsIdle)
                + " reads");
        assertTrue(streamReads.get() - streamReadsIdle <= 2, "the stream subscription read again for none of them: "
                + (streamReads.get() - streamReadsIdle) + " reads");
        long own = append("Account-1", new Credited(1));
        awaitPosition(category, own);
        awaitPosition(stream, 1);   // the cursor of a stream source is version + 1
        assertEquals(List.of(otherAccount, own), byCategory);
        assertEquals(List.of(own), byStream);
    }

    @Test
    @Timeout(120)
    void eightWritersWhileTailingEveryEventArrivesExactlyOnceInPositionOrder() throws Exception {
        List<Long> seen = Collections.synchronizedList(new ArrayList<>());
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).batchSize(50)
                .onRecorded(e -> seen.add(e.position())));
        ExecutorService writers = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < 8; w++) {
                String stream = "Account-" + w;
                done.add(writers.submit(() -> {
                    for (int i = 0; i < 500; i++) {
                        append(stream, new Credited(i), new Debited(i));
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            writers.shutdownNow();
        }
        awaitPosition(subscription, store.lastPosition());

        List<Long> all = allPositions();
        assertEquals(8 * 500 * 2, all.size());
        assertEquals(all, seen);
    }

    @Test
    void twoConsumerGroupMembersTogetherSeeEveryEventOnceWithEachStreamOnOneMember() throws Exception {
        for (int i = 0; i < 400; i++) {
            append("Account-" + (i % 40) + (i % 2 == 0 ? "" : "+x"), new Credited(i));
        }
        long last = store.lastPosition();
        List<List<RecordedEvent>> members = List.of(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
        for (int m = 0; m < 2; m++) {
            List<RecordedEvent> mine = members.get(m);
            Subscription member = start(Subscription.builder(EventSource.all(store)).name("group-" + m, offsets).group(m, 2)
                    .onRecorded(mine::add));
            awaitPosition(member, last);
            assertTrue(member.stop(WAIT));
        }

        Set<Long> union = new HashSet<>();
        Map<String, Integer> memberOfCardinalId = new HashMap<>();
        for (int m = 0; m < 2; m++) {
            List<RecordedEvent> mine = members.get(m);
            assertFalse(mine.isEmpty(), "member " + m + " got nothing: the hash does not spread");
            long previous = 0;
            for (RecordedEvent event : mine) {
                assertTrue(union.add(event.position()), "position " + event.position() + " came twice");
                assertTrue(event.position() > previous, "member " + m + " out of order");
                previous = event.position();
                String cardinal = event.streamId().split("\\+")[0];
                Integer other = memberOfCardinalId.putIfAbsent(cardinal, m);
                assertTrue(other == null || other == m, cardinal + " is on two members");
            }
        }
        assertEquals(new HashSet<>(allPositions()), union);
        assertEquals(last, offsets.load("group-0"), "a member's offset moves past the other member's events too");
    }

    @Test
    void aFailingSourceIsRetriedWithBackoffUntilItReads() throws Exception {
        long last = append("Account-1", new Credited(1));
        AtomicInteger failuresLeft = new AtomicInteger(3);
        EventSource flaky = logReadThrough((real, after, maxCount) -> {
            if (failuresLeft.getAndDecrement() > 0) {
                throw new IllegalStateException("connection refused");
            }
            return real.read(after, maxCount);
        });
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(flaky).errorDelay(Duration.ofMillis(5), Duration.ofMillis(20))
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(subscription, last);

        assertEquals(List.of(last), seen);
        assertEquals("connection refused", subscription.lastError().getMessage());
    }

    @Test
    void anInterruptFromTheExecutorStopsTheSubscriptionAndStoresItsOffset() throws Exception {
        long last = append("Account-1", new Credited(1), new Credited(2));
        ExecutorService executor = Executors.newSingleThreadExecutor();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("pooled", offsets)
                .checkpointEvery(1000).checkpointInterval(Duration.ofHours(1)).executor(executor).onRecorded(e -> { }));
        awaitPosition(subscription, last);

        executor.shutdownNow();

        assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS));
        assertEquals(Subscription.State.STOPPED, subscription.state());
        assertEquals(last, offsets.load("pooled"));
    }

    @Test
    void anInterruptThatEndsABlockedHandlerStopsTheSubscriptionAndItsEventComesAgain() throws Exception {
        long first = append("Account-1", new Credited(1));
        long second = append("Account-1", new Credited(2));
        append("Account-1", new Credited(3));
        ExecutorService executor = Executors.newSingleThreadExecutor();
        CountDownLatch blocked = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("blocking", offsets)
                .errorDelay(Duration.ofMillis(1), Duration.ofMillis(1)).executor(executor)
                .onRecorded(e -> {
                    seen.add(e.position());
                    if (e.position() == second) {
                        blocked.countDown();
                        never.await();      // a handler blocked in I/O, as handlers are
                    }
                }));
        assertTrue(blocked.await(10, TimeUnit.SECONDS));

        executor.shutdownNow();

        assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS), "the subscription still holds the executor's thread");
        assertEquals(Subscription.State.STOPPED, subscription.state());
        assertEquals(List.of(first, second), seen, "the interrupted handler is not retried");
        assertEquals(first, offsets.load("blocking"), "a restart delivers the interrupted event again");
    }

    @Test
    void anInterruptThatEndsAConsumerHandlerWhichWrapsItStillStopsTheSubscription() throws Exception {
        long first = append("Account-1", new Credited(1));
        append("Account-1", new Credited(2), new Credited(3));
        ExecutorService executor = Executors.newSingleThreadExecutor();
        CountDownLatch blocked = new CountDownLatch(1);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("wrapping", offsets)
                .errorDelay(Duration.ofMillis(1), Duration.ofMillis(1)).executor(executor)
                .on(Credited.class, e -> {     // a Consumer: it cannot throw the InterruptedException itself
                    seen.add(e.amount());
                    if (e.amount() == 2) {
                        blocked.countDown();
                        try {
                            new CountDownLatch(1).await();
                        } catch (InterruptedException interrupted) {
                            throw new IllegalStateException("interrupted while writing the read model", interrupted);
                        }
                    }
                }));
        assertTrue(blocked.await(10, TimeUnit.SECONDS));

        executor.shutdownNow();

        assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS), "the retried handler blocked the executor's thread");
        assertEquals(Subscription.State.STOPPED, subscription.state());
        assertEquals(List.of(1L, 2L), seen, "the interrupted handler is not retried");
        assertEquals(first, offsets.load("wrapping"), "a restart delivers the interrupted event again");
    }

    @Test
    void anotherThreadsInterruptedTaskFailingAHandlerIsAFailureNotAStop() throws Exception {
        long last = append("Account-1", new Credited(1));
        AtomicInteger attempts = new AtomicInteger();
        Subscription subscription = start(Subscription.builder(EventSource.all(store))
                .maxRetries(2).errorDelay(Duration.ofMillis(1), Duration.ofMillis(1)).onFailure(FailureHandler.skip())
                .onRecorded(e -> {
                    if (attempts.incrementAndGet() == 1) {
                        throw new java.util.concurrent.ExecutionException(new InterruptedException("a pool task's"));
                    }
                }));

        awaitPosition(subscription, last);
        assertEquals(2, attempts.get(), "retried: the interrupt was another thread's");
        assertEquals(Subscription.State.RUNNING, subscription.state());
    }

    @Test
    void aSubscriptionSeenFailedHasGivenUpItsNameSoASupervisorCanRestartItAtOnce() {
        append("Account-1", new Credited(1));
        for (int round = 0; round < 1000; round++) {
            InMemoryOffsetStore names = new InMemoryOffsetStore();
            Subscription failing = Subscription.builder(EventSource.all(store)).name("restarted", names)
                    .onRecorded(e -> {
                        throw new StackOverflowError("a handler bug");     // an Error: FAILED at once
                    }).build();
            Subscription restarted = Subscription.builder(EventSource.all(store)).name("restarted", names)
                    .onRecorded(e -> { }).build();
            failing.start();
            while (failing.state() != Subscription.State.FAILED) {
                Thread.onSpinWait();
            }

            restarted.start();      // threw, now and then, while the failed one still held the name

            restarted.stop();
        }
    }

    @Test
    void theCheckpointIntervalHoldsInsideABatchOfSlowHandlers() throws Exception {
        for (int i = 0; i < 200; i++) {
            append("Account-1", new Credited(i));
        }
        Subscription slow = start(Subscription.builder(EventSource.all(store)).name("slow", offsets)
                .checkpointEvery(100_000).checkpointInterval(Duration.ofMillis(50))
                .onRecorded(e -> Thread.sleep(5)));

        // About 100 events of the first batch of 200: 500 ms of handlers at the least, 10 intervals.
        assertTrue(waitUntil(() -> slow.position() >= 100), slow::toString);

        long handled = slow.position();
        long stored = offsets.load("slow");
        assertTrue(handled > 20 && handled - stored < 30,
                "handled up to " + handled + ", stored " + stored + ": a crash would repeat more than an interval's events");
    }

    @Test
    void stopBeforeStartDoesNothingAndTheSubscriptionStartsAfterwards() throws Exception {
        long last = append("Account-1", new Credited(1));
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(EventSource.all(store)).onRecorded(e -> seen.add(e.position())).build();
        started.add(subscription);

        assertTrue(subscription.stop(Duration.ofSeconds(1)));
        assertEquals(Subscription.State.NEW, subscription.state());
        subscription.start();

        assertTrue(subscription.awaitPosition(last, WAIT));
        assertEquals(List.of(last), seen);
    }

    @Test
    void aHandlerMayStopItsOwnSubscription() throws Exception {
        append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        AtomicReference<Subscription> self = new AtomicReference<>();
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(EventSource.all(store)).onRecorded(e -> {
            seen.add(e.position());
            if (e.position() == 2) {
                assertFalse(self.get().stop(WAIT), "stop from the handler cannot wait for itself");
            }
        }).build();
        self.set(subscription);
        started.add(subscription);
        subscription.start();

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.STOPPED));
        assertEquals(List.of(1L, 2L), seen);
    }

    @Test
    void aHandlerAwaitingItsOwnSubscriptionIsAnsweredAtOnceInsteadOfHoldingItForTheTimeout() throws Exception {
        long first = append("Account-1", new Credited(1));
        long second = append("Account-1", new Credited(2));
        AtomicReference<Subscription> self = new AtomicReference<>();
        List<String> answers = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(EventSource.all(store)).name("self-awaiting", offsets)
                .onRecorded(e -> {
                    // e.g. a process manager's command whose query waits for this read model to see its event
                    answers.add(e.position() + ":" + self.get().awaitPosition(e.position() - 1, Duration.ofDays(1))
                            + "," + self.get().awaitPosition(e.position(), Duration.ofDays(1)));
                }).build();
        self.set(subscription);
        started.add(subscription);
        subscription.start();

        awaitPosition(subscription, second);     // timed out: the first handler still waited for its own event

        assertEquals(List.of(first + ":true,false", second + ":true,false"), answers,
                "what it had passed: true; what it cannot pass while its handler waits: false, at once");
        assertTrue(subscription.stop(WAIT));
        assertEquals(second, offsets.load("self-awaiting"));
    }

    @Test
    void startTwiceAndBadOptionsAreRefusedClearly() {
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).onRecorded(e -> { }));
        IllegalStateException twice = assertThrows(IllegalStateException.class, subscription::start);
        assertTrue(twice.getMessage().contains("already started"), twice.getMessage());

        Subscription.Builder builder = Subscription.builder(EventSource.all(store));
        assertThrows(IllegalArgumentException.class, () -> Subscription.builder(null));
        IllegalArgumentException noHandler = assertThrows(IllegalArgumentException.class, builder::build);
        assertTrue(noHandler.getMessage().contains("handler"), noHandler.getMessage());
        assertThrows(IllegalArgumentException.class, () -> builder.batchSize(0));
        assertThrows(IllegalArgumentException.class, () -> builder.pollInterval(Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> builder.errorDelay(Duration.ofSeconds(2), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> builder.group(2, 2));
        assertThrows(IllegalArgumentException.class, () -> builder.name(" ", offsets));
        assertThrows(IllegalArgumentException.class, () -> builder.name("x", null));
        assertThrows(IllegalArgumentException.class, () -> builder.maxRetries(-1));
        builder.on(Credited.class, e -> { });
        assertThrows(IllegalArgumentException.class, () -> builder.on(Credited.class, e -> { }));
        IllegalArgumentException resetAlone = assertThrows(IllegalArgumentException.class, () -> builder.reset().build());
        assertTrue(resetAlone.getMessage().contains("name"), resetAlone.getMessage());
        assertThrows(IllegalArgumentException.class, () -> builder.reset(null));
        IllegalArgumentException blankId = assertThrows(IllegalArgumentException.class, () -> builder.reset(" "));
        assertTrue(blankId.getMessage().contains("reset id") && blankId.getMessage().contains("' '"), blankId.getMessage());
        assertThrows(IllegalArgumentException.class, () -> EventSource.category(store, "bad-category"));
        assertThrows(IllegalArgumentException.class, () -> EventSource.stream(null, "Account-1"));
    }

    @Test
    void durationsOfForeverAreWaitsThatNeverEndNotAnOverflow() throws Exception {
        Duration forever = ChronoUnit.FOREVER.getDuration();     // the class's timeout ends a hang
        append("Account-1", new Credited(1));
        Subscription subscription = start(Subscription.builder(EventSource.all(store))
                .name("forever", offsets)
                .pollInterval(forever)
                .checkpointInterval(forever)
                .errorDelay(Duration.ofMillis(1), forever)
                .onRecorded(e -> { }));
        assertTrue(subscription.awaitPosition(1, forever));
        append("Account-1", new Credited(2));
        assertTrue(subscription.awaitPosition(2, forever), "an append wakes it, whatever its poll interval");
        assertTrue(subscription.stop(forever));
        assertEquals(Subscription.State.STOPPED, subscription.state());
        assertEquals(2, offsets.load("forever"), "its stop stored the offset, whatever its checkpoint interval");
    }

    @Test
    void groupMembershipIsTheMd5RuleEveryProcessComputesAlike() {
        // The first 8 bytes of MD5("123") as a signed long, floor-modulo 4, and so on: computed outside Java.
        assertEquals(3, Subscription.groupMemberOf("Account-123", 4));
        assertEquals(2, Subscription.groupMemberOf("Order-5f1d7c2e+items", 7), "the cardinal id, before '+'");
        assertEquals(816, Subscription.groupMemberOf("Account-abc", 1000));
        assertEquals(816, Subscription.groupMemberOf("Account-abc", 1000), "again, on the same thread's digest");
    }

    @Test
    void groupMembershipIsStableAndSpreads() {
        int[] counts = new int[4];
        for (int i = 0; i < 1000; i++) {
            int member = Subscription.groupMemberOf("Account-" + i, 4);
            assertEquals(member, Subscription.groupMemberOf("Order-" + i + "+extra", 4), "same cardinal id, same member");
            counts[member]++;
        }
        for (int count : counts) {
            assertTrue(count > 150, "uneven spread: " + java.util.Arrays.toString(counts));
        }
    }

    @Test
    void aStopBeforeTheExecutorRanTheSubscriptionLeavesItsStoredOffset() throws Exception {
        append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        offsets.save("late", 2);
        CountDownLatch stopped = new CountDownLatch(1);
        CountDownLatch ranLate = new CountDownLatch(1);
        Executor busyPool = task -> new Thread(() -> {   // runs the task only after the stop below returned
            try {
                stopped.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            task.run();
            ranLate.countDown();
        }).start();
        AtomicInteger handled = new AtomicInteger();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("late", offsets)
                .executor(busyPool).onRecorded(e -> handled.incrementAndGet()));

        boolean stoppedInTime = subscription.stop(WAIT);
        stopped.countDown();
        assertTrue(stoppedInTime, "stop waited for a task the executor had not run");

        assertEquals(Subscription.State.STOPPED, subscription.state());
        assertTrue(ranLate.await(10, TimeUnit.SECONDS));
        assertEquals(2, offsets.load("late"), "the stored offset stays as it was");
        assertEquals(0, handled.get(), "a subscription stopped before it ran never runs");
    }

    @Test
    void aStopWhileTheOffsetCannotBeRestoredLeavesTheStoredOffset() throws Exception {
        append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        offsets.save("flaky", 2);
        AtomicInteger finds = new AtomicInteger();
        OffsetStore away = new HookedOffsets(offsets) {
            @Override
            public OptionalLong find(String name) {
                finds.incrementAndGet();
                throw new IllegalStateException("offset store away");
            }
        };
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("flaky", away)
                .errorDelay(Duration.ofSeconds(5), Duration.ofSeconds(5)).onRecorded(e -> { }));
        assertTrue(waitUntil(() -> finds.get() > 0));

        assertTrue(subscription.stop(WAIT));

        assertEquals(2, offsets.load("flaky"), "a subscription that never restored its offset does not store one");
        assertTrue(subscription.lastError().getMessage().contains("offset store away"));
    }

    @Test
    void aStopAfterShutdownNowDroppedTheQueuedSubscriptionReturnsAtOnce() throws Exception {
        ExecutorService executor = Executors.newSingleThreadExecutor();
        CountDownLatch release = new CountDownLatch(1);
        executor.execute(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).executor(executor)
                .onRecorded(e -> { }));
        assertEquals(1, executor.shutdownNow().size(), "the subscription's task was dropped unrun");

        assertTrue(subscription.stop(Duration.ofSeconds(5)));
        assertEquals(Subscription.State.STOPPED, subscription.state());
    }

    @Test
    void anErrorFromAHandlerStopsTheSubscriptionAtOnceWithoutSkippingTheEvent() throws Exception {
        long first = append("Account-1", new Credited(1));
        append("Account-1", new Credited(2));
        AtomicInteger attempts = new AtomicInteger();
        AtomicInteger hookCalls = new AtomicInteger();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("errors", offsets)
                .maxRetries(3).errorDelay(Duration.ofMillis(1), Duration.ofMillis(1))
                .onFailure((event, error, tries) -> {
                    hookCalls.incrementAndGet();
                    return FailureHandler.Action.SKIP;
                })
                .on(Credited.class, e -> {
                    if (e.amount() == 2) {
                        attempts.incrementAndGet();
                        throw new AssertionError("a bug in the handler");
                    }
                }));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED));
        assertInstanceOf(AssertionError.class, subscription.failure().getCause());
        assertEquals(1, attempts.get(), "an Error is not retried");
        assertEquals(0, hookCalls.get(), "nor skipped by the failure hook");
        assertEquals(first, subscription.position());
        assertEquals(first, offsets.load("errors"), "the event is met again after a restart");
    }

    @Test
    void startAtEndRefusesAnOffsetStoreThatCannotTellAStoredZeroFromNone() {
        OffsetStore zeroIsNone = new OffsetStore() {    // find() is the interface's default
            @Override
            public long load(String name) {
                return offsets.load(name);
            }

            @Override
            public void save(String name, long position) {
                offsets.save(name, position);
            }

            @Override
            public void delete(String name) {
                offsets.delete(name);
            }
        };
        Subscription.Builder builder = Subscription.builder(EventSource.all(store)).name("tail", zeroIsNone)
                .startAtEnd().onRecorded(e -> { });

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, builder::build);
        assertTrue(refused.getMessage().contains("find(name)"), refused.getMessage());
        assertNotNull(builder.startAtBeginning().build(), "from the beginning, 0 and none mean the same");
        assertNotNull(Subscription.builder(EventSource.all(store)).name("tail", offsets).startAtEnd()
                .onRecorded(e -> { }).build(), "the memory offset store tells them apart");
    }

    @Test
    void anAppendDuringTheCaughtUpCheckpointWakesTheSubscriptionEvenIfTheCheckpointParked() throws Exception {
        long first = append("Account-1", new Credited(1));
        AtomicInteger checkpoints = new AtomicInteger();
        OffsetStore parking = new HookedOffsets(offsets) {   // like a durable store that parks while its write syncs
            @Override
            public void save(String name, long position) {
                if (position == first && checkpoints.getAndIncrement() == 0) {
                    Thread appender = new Thread(() -> append("Account-1", new Credited(2)));
                    appender.start();
                    joinQuietly(appender);               // the append's wake-up left its permit for this thread
                    LockSupport.parkNanos(1_000_000);   // ... and this park uses it up
                }
                super.save(name, position);
            }
        };
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("wake", parking)
                .pollInterval(Duration.ofHours(1)).onRecorded(e -> { }));

        awaitPosition(subscription, first + 1);
    }

    private static void joinQuietly(Thread thread) {
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aCheckpointThatFailedIsRetriedWhileTheSubscriptionIsIdle() throws Exception {
        long last = append("Account-1", new Credited(1), new Credited(2));
        AtomicInteger saves = new AtomicInteger();
        OffsetStore failingOnce = new HookedOffsets(offsets) {
            @Override
            public void save(String name, long position) {
                if (position == last && saves.getAndIncrement() == 0) {
                    throw new IllegalStateException("offset store briefly away");
                }
                super.save(name, position);
            }
        };
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("retry", failingOnce)
                .pollInterval(Duration.ofMillis(20)).onRecorded(e -> { }));

        assertTrue(waitUntil(() -> offsets.load("retry") == last), "stored on a later poll, with no new event");
        assertTrue(saves.get() >= 2);
        assertEquals(last, subscription.position());
    }

    @Test
    void aSourceThatAnswersOutOfOrderStopsTheSubscriptionBeforeItHandsOutAnEvent() throws Exception {
        append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        EventSource shuffled = logReadThrough((real, after, maxCount) -> {
            List<RecordedEvent> events = new ArrayList<>(real.read(after, maxCount));
            if (events.size() > 1) {
                Collections.swap(events, 0, 1);     // a source of one's own with a bug: 2, 1, 3
            }
            return events;
        });
        List<Long> seen = new CopyOnWriteArrayList<>();
        AtomicReference<Subscription> self = new AtomicReference<>();
        Subscription subscription = Subscription.builder(shuffled).name("shuffled", offsets).onRecorded(e -> {
            seen.add(e.position());
            if (e.position() == 2) {
                self.get().stop();      // handled so, this stored 2, and a restart never delivered 1
            }
        }).build();
        self.set(subscription);
        started.add(subscription);
        subscription.start();

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED), () -> "state " + subscription.state());
        assertEquals(List.of(), seen);
        assertEquals(0, offsets.load("shuffled"));
        String message = subscription.failure().getMessage();
        assertTrue(message.contains("at cursor 1 after one at 2, out of order") && message.contains("fix the source"), message);
    }

    @Test
    void aStopThatCameJustBeforeALongPollWasInFlightStillEndsIt() throws Exception {
        CountDownLatch reading = new CountDownLatch(1);
        CountDownLatch released = new CountDownLatch(1);
        CountDownLatch missedOne = new CountDownLatch(1);
        AtomicInteger missedStops = new AtomicInteger();
        EventSource lateLongPoll = new EventSource() {
            private volatile boolean inFlight;

            @Override
            public List<RecordedEvent> read(long after, int maxCount) {
                reading.countDown();
                try {
                    missedOne.await(30, TimeUnit.SECONDS);   // a stop comes now, and finds no poll in flight to cancel
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                inFlight = true;
                try {
                    released.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return List.of();
            }

            @Override
            public long cursorOf(RecordedEvent event) {
                return event.position();
            }

            @Override
            public long end() {
                return 0;
            }

            @Override
            public boolean waitsForEvents() {
                return true;
            }

            @Override
            public void stopWaiting() {
                if (inFlight) {
                    released.countDown();
                } else {
                    missedStops.incrementAndGet();
                    missedOne.countDown();
                }
            }
        };
        Subscription subscription = start(Subscription.builder(lateLongPoll).onRecorded(e -> { }));
        assertTrue(reading.await(10, TimeUnit.SECONDS));

        assertTrue(subscription.stop(Duration.ofSeconds(5)), "stop() told the source again once its poll was in flight");
        assertTrue(missedStops.get() > 0, "the first call came before the poll was in flight");
    }

    @Test
    void stoppingAStoppedSubscriptionAgainLeavesItsSourceAlone() throws Exception {
        EventSource real = EventSource.all(store);
        AtomicInteger stopWaitingCalls = new AtomicInteger();
        EventSource shared = new EventSource() {     // an HttpEventSource other subscriptions read too, say
            @Override
            public List<RecordedEvent> read(long after, int maxCount) {
                return real.read(after, maxCount);
            }

            @Override
            public long cursorOf(RecordedEvent event) {
                return real.cursorOf(event);
            }

            @Override
            public long end() {
                return real.end();
            }

            @Override
            public void stopWaiting() {
                stopWaitingCalls.incrementAndGet();     // cuts short every read of this source in flight
            }
        };
        Subscription subscription = start(Subscription.builder(shared).onRecorded(e -> { }));
        awaitPosition(subscription, append("Account-1", new Credited(1)));
        subscription.close();
        int callsWhileStopping = stopWaitingCalls.get();

        subscription.close();
        assertTrue(subscription.stop(WAIT));

        assertEquals(callsWhileStopping, stopWaitingCalls.get(), "a second stop does nothing, as documented");
        assertEquals(Subscription.State.STOPPED, subscription.state());
    }

    @Test
    void aSubscriptionStartedOnAClosedStoreFailsAtOnceSayingSoAndLeavesItsStoredOffset() throws Exception {
        append("Account-1", new Credited(1), new Credited(2));
        offsets.save("balances", 1);
        store.close();

        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .errorDelay(Duration.ofMillis(5), Duration.ofMillis(20)).onRecorded(e -> { }));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED),
                () -> "a closed store never has another event, yet " + subscription + " goes on; last error " + subscription.lastError());
        String message = subscription.failure().getMessage();
        assertTrue(message.contains("'balances'") && message.contains("could not start")
                && message.contains("InMemoryEventStore is closed") && message.contains("open"), message);
        assertInstanceOf(IllegalStateException.class, subscription.failure().getCause());
        assertEquals(1, offsets.load("balances"), "the stored offset is left as it was");
    }

    @Test
    void aStoreClosedUnderARunningSubscriptionStopsItSayingSoWithItsOffsetStored() throws Exception {
        append("Account-1", new Credited(1), new Credited(2));
        List<Long> handled = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .pollInterval(Duration.ofMillis(20)).errorDelay(Duration.ofMillis(5), Duration.ofMillis(20))
                .onRecorded(e -> handled.add(e.position())));
        assertTrue(waitUntil(() -> handled.size() == 2), subscription::toString);

        store.close();

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED),
                () -> "a closed store never has another event, yet " + subscription + " retries; last error "
                        + subscription.lastError());
        String message = subscription.failure().getMessage();
        assertTrue(message.contains("'balances'") && message.contains("position 2") && message.contains("closed")
                && message.contains("InMemoryEventStore is closed"), message);
        assertInstanceOf(IllegalStateException.class, subscription.failure().getCause());
        assertEquals(2, offsets.load("balances"), "the offset of the last event handled is stored");
        assertEquals(List.of(1L, 2L), handled);
    }

    @Test
    void aSourceThatFailsToReadButStillTellsOfAppendsIsRetried() throws Exception {
        AtomicInteger failures = new AtomicInteger();
        EventSource flaky = logSource((real, after, max) -> {
            if (failures.incrementAndGet() <= 3) {
                throw new IllegalStateException("read model is warming up");
            }
            return real.read(after, max);
        }, store::onAppend);
        append("Account-1", new Credited(1));
        List<Long> handled = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(flaky).errorDelay(Duration.ofMillis(5), Duration.ofMillis(20))
                .onRecorded(e -> handled.add(e.position())));

        assertTrue(waitUntil(() -> handled.size() == 1), () -> subscription + " gave up; failure " + subscription.failure());
        assertEquals(Subscription.State.RUNNING, subscription.state());
    }

    @Test
    void aStoredOffsetBeyondTheSourcesEndFailsTheSubscriptionInsteadOfSkippingItsNextEvents() throws Exception {
        append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        offsets.save("balances", 10);     // stored against a store that held more, say before it started again
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .pollInterval(Duration.ofMillis(20)).onRecorded(e -> seen.add(e.position())));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED), subscription::toString);
        String message = subscription.failure().getMessage();
        assertTrue(message.contains("'balances'") && message.contains("its position 10 is beyond the end of its source (3)")
                && message.contains("reset()"), message);
        assertEquals(List.of(), seen);
        assertEquals(10, offsets.load("balances"), "the stored offset is left for whoever looks into it");

        // Once the source passes the stored offset, a restart would skip positions 4 to 10: refused again.
        for (int i = 0; i < 8; i++) {
            append("Account-2", new Credited(i));
        }
        Subscription again = start(Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(again, store.lastPosition());
        assertEquals(List.of(11L), seen, "a stored offset the source has reached is where it resumes");
        assertTrue(again.stop(WAIT));

        seen.clear();
        Subscription fromTheStart = start(Subscription.builder(EventSource.all(store)).name("balances", offsets).reset()
                .onRecorded(e -> seen.add(e.position())));
        awaitPosition(fromTheStart, store.lastPosition());
        assertEquals(allPositions(), seen);
    }

    @Test
    void aStoredOffsetBeyondTheSourcesEndIsNotWaitedForSinceTheSourceMayPassItWithEventsOfANewLog() throws Exception {
        append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        offsets.save("balances", 10);     // stored against a log that held more: the store started again
        List<Long> seen = new CopyOnWriteArrayList<>();
        AtomicReference<Subscription.State> stateWhenPassed = new AtomicReference<>();
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("balances", offsets)
                .pollInterval(Duration.ofSeconds(1)).onRecorded(e -> seen.add(e.position())));

        // The new log's writers go on: within a poll interval it passes the offset, with events of its own.
        Thread.sleep(200);
        for (int i = 0; i < 8; i++) {
            append("Account-2", new Credited(i));
        }
        stateWhenPassed.set(subscription.state());

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED), subscription::toString);
        assertEquals(Subscription.State.FAILED, stateWhenPassed.get(), "it stopped before the source passed its offset");
        assertEquals(List.of(), seen, "nothing of the new log handled, so positions 4 to 10 not skipped");
        String message = subscription.failure().getMessage();
        assertTrue(message.contains("its position 10 is beyond the end of its source (3)") && !message.contains(" ms."), message);
    }

    @Test
    void aSourceThatGoesBackBeneathARunningSubscriptionStopsItBeforeItSkipsAnything() throws Exception {
        InMemoryEventStore before = new InMemoryEventStore();
        InMemoryEventStore after = new InMemoryEventStore();
        for (int i = 1; i <= 5; i++) {
            before.append("Account-1", ExpectedVersion.ANY, List.of(serializer.serialize(new Credited(i), Map.of())));
        }
        // A feed whose process started again with an empty memory store: the same source, another log.
        AtomicReference<InMemoryEventStore> current = new AtomicReference<>(before);
        EventSource restarting = new EventSource() {
            @Override
            public List<RecordedEvent> read(long afterPosition, int maxCount) {
                return current.get().readAll(afterPosition, maxCount);
            }

            @Override
            public long cursorOf(RecordedEvent event) {
                return event.position();
            }

            @Override
            public long end() {
                return current.get().lastPosition();
            }
        };
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(restarting).name("balances", offsets)
                .pollInterval(Duration.ofMillis(20)).onRecorded(e -> seen.add(e.position())));
        awaitPosition(subscription, 5);

        current.set(after);
        for (int i = 1; i <= 3; i++) {
            after.append("Account-1", ExpectedVersion.ANY, List.of(serializer.serialize(new Credited(i), Map.of())));
        }
        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED), subscription::toString);
        String message = subscription.failure().getMessage();
        assertTrue(message.contains("the event it handled at its position 5")
                && message.contains("is no longer in its source, for 200 ms"), message);
        for (int i = 4; i <= 7; i++) {
            after.append("Account-1", ExpectedVersion.ANY, List.of(serializer.serialize(new Credited(i), Map.of())));
        }
        Thread.sleep(100);
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seen, "nothing of the new log was handled, so none of it was skipped");
        assertEquals(5, offsets.load("balances"));
        before.close();
        after.close();
    }

    /** A source over one store or another, switched by the test: a feed whose service started again, say. */
    private static final class SwitchedSource implements EventSource {
        final AtomicReference<InMemoryEventStore> current;
        volatile RuntimeException failure;
        /** When at least 0, the source shows nothing after this position: a lagging replica. */
        volatile long lagAt = -1;

        SwitchedSource(InMemoryEventStore first) {
            current = new AtomicReference<>(first);
        }

        @Override
        public List<RecordedEvent> read(long afterPosition, int maxCount) {
            if (failure != null) {
                throw failure;
            }
            List<RecordedEvent> events = current.get().readAll(afterPosition, maxCount);
            long lag = lagAt;
            return lag < 0 ? events : events.stream().filter(e -> e.position() <= lag).toList();
        }

        @Override
        public long cursorOf(RecordedEvent event) {
            return event.position();
        }

        @Override
        public long end() {
            long lag = lagAt;
            return lag < 0 ? current.get().lastPosition() : Math.min(lag, current.get().lastPosition());
        }
    }

    private void credit(InMemoryEventStore target, int times) {
        for (int i = 0; i < times; i++) {
            target.append("Account-1", ExpectedVersion.ANY, List.of(serializer.serialize(new Credited(i), Map.of())));
        }
    }

    @Test
    void aSourceBackFromAFailureWithAnotherLogAlreadyPastThePositionStopsTheSubscriptionAtOnce() throws Exception {
        InMemoryEventStore before = new InMemoryEventStore();
        InMemoryEventStore after = new InMemoryEventStore();
        credit(before, 5);
        SwitchedSource source = new SwitchedSource(before);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(source).name("balances", offsets)
                .errorDelay(Duration.ofMillis(10), Duration.ofMillis(20)).onRecorded(e -> seen.add(e.position())));
        awaitPosition(subscription, 5);

        source.failure = new IllegalStateException("connection refused");     // the service is away...
        assertTrue(waitUntil(() -> subscription.lastError() != null));
        credit(after, 8);                                                       // ...and back with a log of its own
        source.current.set(after);
        source.failure = null;

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED), subscription::toString);
        String message = subscription.failure().getMessage();
        RecordedEvent other = after.readAll(4, 1).get(0);
        assertTrue(message.contains("another event at its position 5 (Credited Account-1@4, id " + other.eventId() + ")")
                && message.contains("than the one it handled there (id " + before.readAll(4, 1).get(0).eventId() + ")"), message);
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seen, "none of the new log was handled, so none of it was skipped");
        assertEquals(5, offsets.load("balances"));
        before.close();
        after.close();
    }

    @Test
    void aSourceThatLagsBehindThePositionForAWhileIsWaitedForNotTakenForOneThatWentBack() throws Exception {
        InMemoryEventStore log = new InMemoryEventStore();
        credit(log, 5);
        SwitchedSource source = new SwitchedSource(log);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(source).name("balances", offsets)
                .pollInterval(Duration.ofMillis(100)).onRecorded(e -> seen.add(e.position())));
        awaitPosition(subscription, 5);

        source.lagAt = 3;     // a read from a replica two events behind the one read before
        assertTrue(waitUntil(() -> subscription.lastError() != null), subscription::toString);
        String waiting = subscription.lastError().getMessage();
        assertTrue(waiting.contains("waits for its source to hold its position 5 again"), waiting);
        credit(log, 2);
        Thread.sleep(300);
        assertEquals(Subscription.State.RUNNING, subscription.state());
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seen, "nothing read on while the source lags");
        source.lagAt = -1;    // caught up again, within ten poll intervals

        awaitPosition(subscription, 7);
        assertEquals(Subscription.State.RUNNING, subscription.state());
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L), seen, "every event once, in order");
        log.close();
    }

    /** An offset store over another, for tests to override one call of. */
    @Test
    void anExecutorThatRunsTheSubscriptionOnTheStartingThreadIsRefusedInsteadOfHoldingStartUntilTheStop()
            throws Exception {
        long last = append("Account-1", new Credited(1));
        ThreadPoolExecutor full = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new SynchronousQueue<>(),
                new ThreadPoolExecutor.CallerRunsPolicy());
        CountDownLatch release = new CountDownLatch(1);
        full.execute(() -> awaitQuietly(release));     // its one thread busy: the next task runs in the caller
        Subscription inline = Subscription.builder(EventSource.all(store)).name("inline", offsets).executor(full)
                .onRecorded(e -> { }).build();
        started.add(inline);
        ExecutorService caller = Executors.newSingleThreadExecutor();
        Throwable refused;
        try {
            Future<Throwable> outcome = caller.submit(() -> {
                try {
                    inline.start();
                    return null;
                } catch (RuntimeException e) {
                    return e;
                }
            });
            refused = outcome.get(5, TimeUnit.SECONDS);     // timed out: start() ran the subscription until a stop
        } finally {
            caller.shutdownNow();
            release.countDown();
            full.shutdown();
        }

        assertInstanceOf(FluxException.class, refused);
        assertTrue(refused.getMessage().contains("on the thread that started it"), refused.getMessage());
        assertEquals(Subscription.State.STOPPED, inline.state());
        assertEquals(OptionalLong.empty(), offsets.find("inline"), "it did not run");
        Subscription own = start(Subscription.builder(EventSource.all(store)).name("inline", offsets).onRecorded(e -> { }));
        awaitPosition(own, last);   // its name is free
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aPausedSubscriptionStoresTheOffsetOfTheEventsItHandledBeforeThePause() throws Exception {
        append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        Subscription subscription = startActingOnItselfAt(2, Subscription::pause, Subscription.builder(EventSource.all(store))
                .name("paused", offsets).checkpointEvery(1000).checkpointInterval(Duration.ofHours(1)));

        awaitPosition(subscription, 2);
        assertTrue(waitUntil(() -> offsets.load("paused") == 2),
                () -> "stored " + offsets.load("paused") + ": a crash during the pause would repeat what it handled");
        assertEquals(2, subscription.position(), "paused after the event in hand");
    }

    @Test
    void aSourceFailingAfterAReadHasTheOffsetOfWhatWasHandledStoredWhileItIsRetried() throws Exception {
        long last = append("Account-1", new Credited(1), new Credited(2));
        AtomicInteger reads = new AtomicInteger();
        EventSource failingAfterOneRead = logReadThrough((real, after, maxCount) -> {
            if (reads.getAndIncrement() > 0) {
                throw new IllegalStateException("feed service away");
            }
            return real.read(after, maxCount);
        });
        Subscription subscription = start(Subscription.builder(failingAfterOneRead).name("outage", offsets)
                .checkpointEvery(1000).checkpointInterval(Duration.ofHours(1))
                .errorDelay(Duration.ofMillis(5), Duration.ofMillis(20)).onRecorded(e -> { }));

        awaitPosition(subscription, last);
        assertTrue(waitUntil(() -> offsets.load("outage") == last),
                () -> "stored " + offsets.load("outage") + " while the source is away");
        assertEquals("feed service away", subscription.lastError().getMessage());
    }

    @Test
    void aHandlerFailingOnAnEventHasTheOffsetBeforeItStoredWhileItIsRetried() throws Exception {
        append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        Subscription subscription = start(Subscription.builder(EventSource.all(store)).name("retrying", offsets)
                .checkpointEvery(1000).checkpointInterval(Duration.ofHours(1))
                .errorDelay(Duration.ofHours(1), Duration.ofHours(1))
                .onRecorded(e -> {
                    if (e.position() == 3) {
                        throw new IllegalStateException("read model away");
                    }
                }));

        assertTrue(waitUntil(() -> offsets.load("retrying") == 2),
                () -> "stored " + offsets.load("retrying") + " while the handler waits to retry event 3");
        assertEquals(2, subscription.position());
        assertTrue(subscription.stop(WAIT), "a stop cuts the retry's wait short");
        assertEquals(2, offsets.load("retrying"));
    }

    @Test
    void aSourceThatReadsNullIsRetriedAsAFailedReadThatSaysSo() throws Exception {
        long last = append("Account-1", new Credited(1));
        AtomicInteger nullsLeft = new AtomicInteger(2);
        EventSource answeringNull = logReadThrough((real, after, maxCount) ->
                nullsLeft.getAndDecrement() > 0 ? null : real.read(after, maxCount));
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(answeringNull)
                .errorDelay(Duration.ofMillis(5), Duration.ofMillis(20)).onRecorded(e -> seen.add(e.position())));

        awaitPosition(subscription, last);
        assertEquals(List.of(last), seen);
        String message = subscription.lastError().getMessage();
        assertTrue(message.contains("returned null from read(0, 256)") && message.contains("fix the source"), message);
    }

    /** The store's whole log, telling of appends through {@code onAppend}. */
    private EventSource logTellingOfAppends(java.util.function.UnaryOperator<Runnable> onAppend) {
        return logSource(EventSource::read, onAppend);
    }

    @Test
    void aSourceWhoseOnAppendAnswersNullFailsAtStartSayingSo() throws Exception {
        append("Account-1", new Credited(1));
        offsets.save("null-remover", 0);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = start(Subscription.builder(logTellingOfAppends(listener -> null))
                .name("null-remover", offsets).onRecorded(e -> seen.add(e.position())));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.FAILED), subscription::toString);
        String message = subscription.failure().getMessage();
        assertTrue(message.contains("could not start") && message.contains("onAppend returned null"), message);
        assertEquals(List.of(), seen);
        assertEquals(OptionalLong.of(0), offsets.find("null-remover"));
    }

    @Test
    void aSourceThatFailsToStopTellingOfAppendsStillHasTheOffsetStoredOnStop() throws Exception {
        append("Account-1", new Credited(1), new Credited(2), new Credited(3));
        Subscription subscription = startActingOnItselfAt(2, Subscription::stop, Subscription.builder(
                        logTellingOfAppends(listener -> () -> {
                            throw new IllegalStateException("listener registry away");
                        }))
                .name("stuck-listener", offsets).checkpointEvery(1000).checkpointInterval(Duration.ofHours(1)));

        assertTrue(waitUntil(() -> subscription.state() == Subscription.State.STOPPED), subscription::toString);
        assertEquals(2, offsets.load("stuck-listener"), "the stop stored the offset of what was handled");
    }

    private static boolean waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    /**
     * Builds and starts a subscription whose handler, at the event at {@code position}, does {@code action} to the
     * subscription itself (pause or stop it from its own thread).
     */
    private Subscription startActingOnItselfAt(long position, java.util.function.Consumer<Subscription> action,
                                               Subscription.Builder builder) {
        AtomicReference<Subscription> self = new AtomicReference<>();
        Subscription subscription = builder.onRecorded(e -> {
            if (e.position() == position) {
                action.accept(self.get());
            }
        }).build();
        self.set(subscription);
        started.add(subscription);
        subscription.start();
        return subscription;
    }
}
