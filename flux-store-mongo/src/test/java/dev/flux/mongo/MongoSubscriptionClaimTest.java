package dev.flux.mongo;

import com.mongodb.client.model.Filters;
import com.mongodb.client.model.Updates;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.OffsetStore;
import dev.flux.subscription.Subscription;
import org.bson.Document;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two processes running a subscription of one name on one MongoDB offsets collection (two
 * {@link MongoOffsetStore} objects, as two processes would have): one handles events, the other
 * stands by and takes over where the first stopped, or when the first's claim ran out.
 */
class MongoSubscriptionClaimTest {
    /** The lease of the subscriptions on a feed: they long-poll 1 s, so a read blocks up to 11 s; the shortest allowed. */
    private static final Duration FEED_LEASE = Duration.ofSeconds(33);

    private TestDatabase database;
    private MongoEventStore events;
    private final List<Subscription> subscriptions = new ArrayList<>();
    private final List<ProcessOffsets> processOffsets = new ArrayList<>();

    /** The server these tests run against. */
    protected MongoTestServer server() {
        return MongoTestServer.inProcess();
    }

    @BeforeEach
    void open() {
        database = server().newDatabase();
        events = new MongoEventStore(database.database());
    }

    @AfterEach
    void close() {
        processOffsets.forEach(ProcessOffsets::answerAgain);
        subscriptions.forEach(Subscription::stop);
        events.close();
        database.close();
    }

    @Test
    void oneProcessHandlesTheEventsAndTheOtherTakesOverWhereItStopped() throws Exception {
        append(10);
        List<Long> first = Collections.synchronizedList(new ArrayList<>());
        List<Long> second = Collections.synchronizedList(new ArrayList<>());
        Subscription a = start(Duration.ofSeconds(30), recorded -> first.add(recorded.position()));
        assertTrue(a.awaitPosition(10, Duration.ofSeconds(10)));

        Subscription b = start(Duration.ofSeconds(30), recorded -> second.add(recorded.position()));
        await(() -> b.state() == Subscription.State.STANDBY, "the second stands by");
        append(5);
        assertTrue(a.awaitPosition(15, Duration.ofSeconds(10)));
        assertEquals(List.of(), second, "the one standing by handles nothing");
        assertEquals(Subscription.State.STANDBY, b.state());

        a.stop();
        await(() -> b.state() == Subscription.State.RUNNING, "the second takes over once the first released its claim");
        append(5);
        assertTrue(b.awaitPosition(20, Duration.ofSeconds(10)));

        assertEquals(positions(1, 15), first);
        assertEquals(positions(16, 20), second, "it starts after the first's stored offset");
    }

    @Test
    void aProcessThatOutlivesItsLeaseStopsHandlingAndStandsBy() throws Exception {
        append(3);
        CountDownLatch hung = new CountDownLatch(1);
        CountDownLatch unhang = new CountDownLatch(1);
        List<Long> first = Collections.synchronizedList(new ArrayList<>());
        List<Long> second = Collections.synchronizedList(new ArrayList<>());
        Subscription a = start(Duration.ofMillis(600), recorded -> {
            first.add(recorded.position());
            if (recorded.position() == 2) {
                hung.countDown();
                awaitQuietly(unhang);   // a pause past the lease: a stalled disk, a long GC, a frozen VM
            }
        });
        assertTrue(hung.await(10, TimeUnit.SECONDS));
        // A long lease for the second, so that a loaded machine cannot stall its renewals past it.
        Subscription b = start(Duration.ofSeconds(30), recorded -> second.add(recorded.position()));

        assertTrue(b.awaitPosition(3, Duration.ofSeconds(10)), "the second takes over once the first's lease ran out");
        append(2);
        assertTrue(b.awaitPosition(5, Duration.ofSeconds(10)));
        unhang.countDown();
        await(() -> a.state() == Subscription.State.STANDBY, "the first notices it lost the claim and stands by");

        assertEquals(List.of(1L, 2L), first, "the first handles nothing after the event in hand");
        assertEquals(positions(2, 5), second, "the event in hand when the lease ran out comes again (at least once)");
        MongoOffsetStore offsets = new MongoOffsetStore(database.database());
        await(() -> offsets.load("balances") == 5, "the second stores its offset once caught up");
    }

    @Test
    void aProcessPausedPastItsLeaseWhileAnotherHandledAndStoppedReadsOnFromTheOthersOffset() throws Exception {
        append(3);
        CountDownLatch hung = new CountDownLatch(1);
        CountDownLatch unhang = new CountDownLatch(1);
        ProcessOffsets offsets = new ProcessOffsets();
        List<Long> first = Collections.synchronizedList(new ArrayList<>());
        Subscription a = start(offsets, Duration.ofMillis(600), recorded -> {
            first.add(recorded.position());
            if (recorded.position() == 2) {
                hung.countDown();
                awaitQuietly(unhang);   // a pause past the lease: a long GC, a laptop asleep
            }
        }, UnaryOperator.identity());
        assertTrue(hung.await(10, TimeUnit.SECONDS));
        Subscription b = start(Duration.ofSeconds(30), recorded -> { });
        assertTrue(b.awaitPosition(3, Duration.ofSeconds(10)), "the second takes over once the first's lease ran out");
        append(2);
        assertTrue(b.awaitPosition(5, Duration.ofSeconds(10)));
        assertTrue(b.stop(Duration.ofSeconds(10)));   // a deploy stops it: it stores 5 and gives the claim back
        MongoOffsetStore shared = new MongoOffsetStore(database.database());
        assertEquals(5, shared.load("balances"));
        int savesBefore = offsets.saved.size();

        unhang.countDown();
        append(1);

        assertTrue(a.awaitPosition(6, Duration.ofSeconds(10)));
        assertEquals(List.of(1L, 2L, 6L), first, "the first reads on from the second's offset, not from its own position");
        List<Long> savedSince = new ArrayList<>(offsets.saved.subList(savesBefore, offsets.saved.size()));
        assertTrue(savedSince.stream().allMatch(position -> position >= 5),
                "the first never stored an offset below the second's 5: " + savedSince);
        await(() -> shared.load("balances") == 6, "the first stores its offset once caught up");
    }

    @Test
    void aSubscriptionStandingByStopsAtOnceAndLeavesTheOthersClaimAndOffsetAlone() throws Exception {
        append(2);
        Subscription a = start(Duration.ofSeconds(30), recorded -> { });
        assertTrue(a.awaitPosition(2, Duration.ofSeconds(10)));
        MongoOffsetStore offsets = new MongoOffsetStore(database.database());
        // It stores the offset once caught up, a moment after it passed 2: the test is about what b leaves.
        await(() -> offsets.load("balances") == 2, "the first stores its offset");
        Subscription b = start(Duration.ofSeconds(30), recorded -> { });
        await(() -> b.state() == Subscription.State.STANDBY, "the second stands by");

        assertTrue(b.stop(Duration.ofSeconds(5)));

        assertEquals(Subscription.State.STOPPED, b.state());
        assertEquals(2, offsets.load("balances"));
        assertFalse(offsets.claim("balances", "someone else", Duration.ofSeconds(1)), "the first still holds the claim");
        a.stop();
        assertTrue(offsets.claim("balances", "someone else", Duration.ofSeconds(1)), "released on stop");
    }

    @Test
    void aSubscriptionWaitingForItsFirstClaimIsNotRunning() throws Exception {
        append(1);
        Subscription a = start(Duration.ofSeconds(30), recorded -> { });
        assertTrue(a.awaitPosition(1, Duration.ofSeconds(10)));
        ProcessOffsets slow = new ProcessOffsets();
        slow.answer = new CountDownLatch(1);    // its server is slow to answer

        Subscription b = start(slow, Duration.ofSeconds(30), recorded -> { }, UnaryOperator.identity());
        assertTrue(slow.claimWaiting.await(10, TimeUnit.SECONDS));

        assertEquals(Subscription.State.STANDBY, b.state(), "it does not hold the claim: another process does");
        slow.answer.countDown();
        assertTrue(b.stop(Duration.ofSeconds(5)));
        assertEquals(Subscription.State.STOPPED, b.state());
    }

    @Test
    void aSubscriptionThatCannotRenewItsClaimStandsByBeforeAnotherTakesOver() throws Exception {
        append(2);
        ProcessOffsets offsets = new ProcessOffsets();
        Subscription a = start(offsets, Duration.ofMillis(600), recorded -> { }, UnaryOperator.identity());
        assertTrue(a.awaitPosition(2, Duration.ofSeconds(10)));
        List<Long> second = Collections.synchronizedList(new ArrayList<>());
        Subscription b = start(Duration.ofMillis(600), recorded -> second.add(recorded.position()));
        await(() -> b.state() == Subscription.State.STANDBY, "the second stands by");

        offsets.down = true;
        await(() -> b.state() == Subscription.State.RUNNING, "the second takes over once the first's lease ran out");
        append(1);
        assertTrue(b.awaitPosition(3, Duration.ofSeconds(10)));

        assertEquals(Subscription.State.STANDBY, a.state(), "the first, cut off from the store, no longer runs");
        assertEquals(List.of(3L), second);
    }

    @Test
    void aClaimIsKeptWhileAFailingHandlerWaitsToRetry() throws Exception {
        append(1);
        AtomicInteger attempts = new AtomicInteger();
        CountDownLatch failedOnce = new CountDownLatch(1);
        CountDownLatch handled = new CountDownLatch(1);
        Subscription a = start(new MongoOffsetStore(database.database()), Duration.ofMillis(600), recorded -> {
            if (attempts.incrementAndGet() <= 2) {
                failedOnce.countDown();
                throw new IllegalStateException("the read model is busy");
            }
            handled.countDown();
        }, options -> options.errorDelay(Duration.ofMillis(800), Duration.ofMillis(800)));   // each wait outlasts the lease
        assertTrue(failedOnce.await(10, TimeUnit.SECONDS));
        List<Long> second = Collections.synchronizedList(new ArrayList<>());
        Subscription b = start(Duration.ofMillis(600), recorded -> second.add(recorded.position()));

        assertTrue(handled.await(10, TimeUnit.SECONDS));
        assertTrue(a.awaitPosition(1, Duration.ofSeconds(10)));

        assertEquals(List.of(), second, "the second never took over from the first, which was alive and retrying");
        assertEquals(Subscription.State.STANDBY, b.state());
        assertEquals(Subscription.State.RUNNING, a.state());
    }

    @Test
    void aSubscriptionStopsRetryingAHandlerOnceItsClaimIsTaken() throws Exception {
        append(1);
        AtomicInteger attempts = new AtomicInteger();
        CountDownLatch failedOnce = new CountDownLatch(1);
        ProcessOffsets offsets = new ProcessOffsets();
        Subscription a = start(offsets, Duration.ofMillis(600), recorded -> {
            attempts.incrementAndGet();
            failedOnce.countDown();
            throw new IllegalStateException("the read model is down");
        }, options -> options.errorDelay(Duration.ofMillis(50), Duration.ofMillis(50)).maxRetries(100_000));
        assertTrue(failedOnce.await(10, TimeUnit.SECONDS));

        takeClaimAsAnotherProcess(Duration.ofMinutes(1));

        await(() -> offsets.refused.get() > 0, "the first notices its claim is taken and stands by");
        int attemptsWhenStandingBy = attempts.get();
        await(() -> offsets.refused.get() >= 4, "the first asks for the claim again, 50 ms apart");

        assertEquals(attemptsWhenStandingBy, attempts.get(), "no attempt once standing by");
        assertEquals(Subscription.State.STANDBY, a.state());
        assertTrue(a.stop(Duration.ofSeconds(5)));
        assertEquals(Subscription.State.STOPPED, a.state(), "standing by is no failure");
        assertEquals(0, new MongoOffsetStore(database.database()).load("balances"));
    }

    @Test
    void aClaimLostWhileTheLastAttemptRanStandsByInsteadOfFailing() throws Exception {
        append(1);
        AtomicInteger attempts = new AtomicInteger();
        Subscription a = start(Duration.ofSeconds(30), recorded -> {
            attempts.incrementAndGet();
            takeClaimAsAnotherProcess(Duration.ofMinutes(1));   // this one paused past its lease meanwhile
            throw new IllegalStateException("the read model is down");
        }, options -> options.maxRetries(0));

        await(() -> attempts.get() == 1, "it tried the event once");
        await(() -> a.state() != Subscription.State.RUNNING, "it decided after its last attempt");

        assertEquals(Subscription.State.STANDBY, a.state(), "it stands by: the event is the other process's now");
        assertNull(a.failure(), "no failure: another process owns the work");
        assertTrue(a.stop(Duration.ofSeconds(5)));
        assertEquals(Subscription.State.STOPPED, a.state());
    }

    @Test
    void aSubscriptionThatRetakesItsClaimDoesNotResetAgain() throws Exception {
        append(3);
        List<Long> handled = Collections.synchronizedList(new ArrayList<>());
        Subscription a = start(new MongoOffsetStore(database.database()), Duration.ofMillis(300),
                recorded -> handled.add(recorded.position()), options -> options.reset("release 2"));
        assertTrue(a.awaitPosition(3, Duration.ofSeconds(10)));
        MongoOffsetStore shared = new MongoOffsetStore(database.database());
        await(() -> shared.load("balances") == 3, "it stored its offset (a save after the takeover would store nothing)");

        takeClaimAsAnotherProcess(Duration.ofSeconds(1));
        await(() -> a.state() == Subscription.State.STANDBY, "it stands by while another process holds the claim");
        await(() -> a.state() == Subscription.State.RUNNING, "it takes the claim back once the other's lease ran out");
        append(2);
        assertTrue(a.awaitPosition(5, Duration.ofSeconds(10)));

        assertEquals(positions(1, 5), handled, "reset applies once, when the subscription starts");
    }

    @Test
    void threeReplicasStartedWithOneResetIdHandleTheSourceOnceAcrossTakeovers() throws Exception {
        append(3);
        MongoOffsetStore shared = new MongoOffsetStore(database.database());
        shared.save("balances", 3);     // where the previous release got
        List<Long> handled = Collections.synchronizedList(new ArrayList<>());
        List<Subscription> replicas = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            replicas.add(start(Duration.ofSeconds(30), recorded -> handled.add(recorded.position()),
                    options -> options.reset("release 2")));
        }

        for (int takeover = 0; takeover < 3; takeover++) {
            await(() -> replicas.stream().anyMatch(r -> r.state() == Subscription.State.RUNNING), "one replica runs");
            Subscription running = replicas.stream().filter(r -> r.state() == Subscription.State.RUNNING).findFirst()
                    .orElseThrow();
            append(1);
            assertTrue(running.awaitPosition(4 + takeover, Duration.ofSeconds(10)));
            assertTrue(running.stop(Duration.ofSeconds(10)));   // a crash or a deploy: the next one takes over
            replicas.remove(running);
        }

        assertEquals(positions(1, 6), handled, "the source is handled once from its beginning, not once per replica");
        assertEquals(6, shared.load("balances"));
    }

    @Test
    void aResetWithoutAnIdIsRefusedOnAStoreThatProcessesShare() {
        Subscription.Builder builder = Subscription.builder(EventSource.all(events))
                .name("balances", new MongoOffsetStore(database.database())).reset().onRecorded(recorded -> { });

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, builder::build);

        assertTrue(refused.getMessage().contains("'balances'") && refused.getMessage().contains("every replica")
                && refused.getMessage().contains("reset(id)"), refused.getMessage());
    }

    @Test
    void aResetCutOffByAnOutageLeavesTheOffsetOfTheProcessThatTookOver() throws Exception {
        append(3);
        ProcessOffsets offsets = new ProcessOffsets();
        offsets.downFromDelete = true;
        Subscription a = start(offsets, Duration.ofMillis(600), recorded -> { },
                options -> options.reset("release 2").errorDelay(Duration.ofMillis(50), Duration.ofMillis(200)));
        await(() -> offsets.failedDeletes.get() > 0, "the first's server went away while it reset its offset");
        Subscription b = start(Duration.ofMillis(600), recorded -> { });
        MongoOffsetStore shared = new MongoOffsetStore(database.database());
        await(() -> shared.load("balances") == 3, "the second took over and stored its offset");

        offsets.down = false;
        await(() -> offsets.refused.get() > 0, "the first is back, and refused the claim");

        assertEquals(3, shared.load("balances"), "the first did not reset the second's offset");
        assertEquals(Subscription.State.STANDBY, a.state());
        assertEquals(Subscription.State.RUNNING, b.state());
    }

    @Test
    void aResetThatComesAfterAnotherProcessTookTheClaimLeavesTheOthersOffset() throws Exception {
        append(3);
        ProcessOffsets offsets = new ProcessOffsets();
        List<Long> handled = Collections.synchronizedList(new ArrayList<>());
        // Between this process's claim and its reset, another takes the name over (this one paused past its
        // lease, say) and stores its own offset.
        offsets.beforeSave = () -> database.database().getCollection("flux_offsets").updateOne(
                Filters.eq("_id", "balances"), Updates.combine(Updates.set("owner", "another process"),
                        Updates.set("leaseUntil", System.currentTimeMillis() + 60_000), Updates.set("position", 100L)));

        Subscription a = start(offsets, Duration.ofSeconds(30), recorded -> handled.add(recorded.position()),
                options -> options.reset("release 2"));

        await(() -> offsets.refused.get() > 0, "the first finds its claim taken as it resets, and asks for it again");
        assertEquals(100, offsets.load("balances"), "its late reset did not wipe out the new owner's offset");
        assertEquals(Subscription.State.STANDBY, a.state());
        assertEquals(List.of(), handled);
    }

    @Test
    void aPausedSubscriptionKeepsItsClaimWhateverItsPollInterval() throws Exception {
        append(2);
        // A lease of 1 s (renewed every 333 ms) leaves a busy machine's scheduler room; 300 ms did not, under load.
        Subscription a = start(new MongoOffsetStore(database.database()), Duration.ofSeconds(1), recorded -> { },
                options -> options.pollInterval(Duration.ofSeconds(20)));
        assertTrue(a.awaitPosition(2, Duration.ofSeconds(10)));
        a.pause();
        ProcessOffsets offsets = new ProcessOffsets();
        Subscription b = start(offsets, Duration.ofSeconds(1), recorded -> { }, UnaryOperator.identity());

        await(() -> offsets.refused.get() >= 50 || b.state() == Subscription.State.RUNNING,
                "the second is refused the claim for 2.5 s");   // 50 tries, 50 ms apart: over two leases

        assertEquals(Subscription.State.STANDBY, b.state(), "the paused first kept its claim");
        assertEquals(Subscription.State.PAUSED, a.state());
    }

    @Test
    void aCheckpointStoresNothingOnceTheClaimMayHaveRunOut() throws Exception {
        append(2);
        ProcessOffsets offsets = new ProcessOffsets();
        CountDownLatch secondStarted = new CountDownLatch(1);
        Subscription a = start(offsets, Duration.ofMillis(1500), recorded -> {
            if (recorded.position() == 2) {
                offsets.answer = new CountDownLatch(1);   // its server stops answering, then fails
                offsets.down = true;
                secondStarted.countDown();
                sleepQuietly(700);   // a slow handler: the renewal (due at 500 ms) comes after it
            }
        }, UnaryOperator.identity());
        assertTrue(secondStarted.await(10, TimeUnit.SECONDS));
        Subscription b = start(Duration.ofMillis(1500), recorded -> { });
        assertTrue(offsets.claimWaiting.await(10, TimeUnit.SECONDS));

        await(() -> b.state() == Subscription.State.RUNNING, "the second takes over once the first's lease ran out");
        offsets.answer.countDown();   // the first's renewal fails only now, past its lease
        await(() -> offsets.failedClaims.get() >= 2, "the first goes on past the checkpoint");

        assertEquals(List.of(), offsets.savedAfterAFailedClaim, "the first stored no offset after its lease ran out");
        await(() -> a.state() == Subscription.State.STANDBY, "the first stands by");
    }

    @Test
    void aSaveThatLandsAfterAnotherProcessTookTheClaimStoresNothing() throws Exception {
        append(3);
        ProcessOffsets offsets = new ProcessOffsets();
        List<Long> handled = Collections.synchronizedList(new ArrayList<>());
        Subscription a = start(offsets, Duration.ofSeconds(30), recorded -> {
            handled.add(recorded.position());
            if (recorded.position() == 2) {
                // Between this process's last renewal and its save, another takes the name over (this one
                // paused past its lease, say) and stores its own offset.
                offsets.beforeSave = () -> database.database().getCollection("flux_offsets").updateOne(
                        Filters.eq("_id", "balances"), Updates.combine(Updates.set("owner", "another process"),
                                Updates.set("leaseUntil", System.currentTimeMillis() + 60_000), Updates.set("position", 100L)));
            }
        }, UnaryOperator.identity());

        await(() -> handled.size() >= 2, "the first handles the event before the takeover");
        await(() -> a.state() == Subscription.State.STANDBY, "the first finds its claim taken as it saves, and stands by");

        assertEquals(100, offsets.load("balances"), "its late save did not overwrite the new owner's offset");
        assertEquals(List.of(1L, 2L), handled, "and it handled nothing after");
    }

    @Test
    void aLeaseOutsideItsRangeIsRefused() {
        Subscription.Builder builder = Subscription.builder(EventSource.all(events));
        IllegalArgumentException tooShort = assertThrows(IllegalArgumentException.class,
                () -> builder.claimLease(Duration.ofMillis(5)));
        assertTrue(tooShort.getMessage().contains("claimLease"), tooShort.getMessage());
        assertThrows(IllegalArgumentException.class, () -> builder.claimLease(Duration.ofDays(2)));
        assertThrows(IllegalArgumentException.class, () -> builder.claimLease(null));
    }

    @Test
    void aClaimWithALeaseUnderThreeTimesTheLongestAFeedReadBlocksIsRefused() {
        // A read of a feed that stalls blocks its 2 s wait plus 10 s for the answer: three times the wait
        // alone (6 s) would let one stalled read outlive the renewal, and another process take over.
        MongoOffsetStore offsets = new MongoOffsetStore(database.database());
        HttpEventSource feed = HttpEventSource.of(URI.create("http://127.0.0.1:1/events"), Duration.ofSeconds(2));

        IllegalArgumentException threeWaits = assertThrows(IllegalArgumentException.class, () -> Subscription.builder(feed)
                .name("balances", offsets).claimLease(Duration.ofSeconds(6)).onRecorded(recorded -> { }).build());
        IllegalArgumentException justUnder = assertThrows(IllegalArgumentException.class, () -> Subscription.builder(feed)
                .name("balances", offsets).claimLease(Duration.ofMillis(35_999)).onRecorded(recorded -> { }).build());

        assertTrue(threeWaits.getMessage().startsWith("claimLease PT6S is too short for the feed http://127.0.0.1:1/events,"
                + " whose reads can block up to PT12S (waiting for new events, or for the answer of a stalled server)"),
                threeWaits.getMessage());
        assertTrue(threeWaits.getMessage().endsWith("Make the lease at least PT36S or the source's longest read"
                + " (longestWait()) at most PT2S"), threeWaits.getMessage());
        assertTrue(justUnder.getMessage().startsWith("claimLease PT35.999S is too short"), justUnder.getMessage());
        assertTrue(justUnder.getMessage().endsWith("Make the lease at least PT36S or the source's longest read"
                + " (longestWait()) at most PT11.999S"), justUnder.getMessage());
        Subscription.builder(feed).name("balances", offsets).claimLease(Duration.ofSeconds(36)).onRecorded(recorded -> { })
                .build();
        Subscription.builder(feed).claimLease(Duration.ofSeconds(1)).onRecorded(recorded -> { }).build();  // no claim
    }

    @Test
    void withoutALeaseGivenTheClaimLastsThreeTimesTheSourcesLongestReadOr30sWhenThatIsLonger() throws Exception {
        // A feed's default 5 s long poll can block 15 s with the answer's 10 s: its default lease is 45 s, so
        // the defaults work together; a source of the same process, whose reads do not block, keeps 30 s.
        append(1);
        try (FeedServer feed = FeedServer.builder(events).port(0).start()) {
            Subscription onFeed = Subscription.builder(HttpEventSource.of(feed.uri()))
                    .name("balances", new MongoOffsetStore(database.database()))
                    .onRecorded(recorded -> { })
                    .start();
            subscriptions.add(onFeed);
            assertTrue(onFeed.awaitPosition(1, Duration.ofSeconds(10)));
            long left = leaseLeftMillis();
            assertTrue(left > 40_000 && left <= 45_000, "a claim of 45 s, " + left + " ms left");
            onFeed.stop();
        }
        Subscription onStore = Subscription.builder(EventSource.all(events))
                .name("balances", new MongoOffsetStore(database.database()))
                .onRecorded(recorded -> { })
                .start();
        subscriptions.add(onStore);
        assertTrue(onStore.awaitPosition(1, Duration.ofSeconds(10)));
        long left = leaseLeftMillis();
        assertTrue(left > 25_000 && left <= 30_000, "a claim of 30 s, " + left + " ms left");
    }

    @Test
    void aSubscriptionLongPollingAFeedOnTheShortestLeaseItAllowsKeepsItsClaimAcrossARenewal() throws Exception {
        // The shortest lease build() allows a 1 s long poll: three times its longest read, 1 s + 10 s for the
        // answer. A read that starts just before the renewal is due and blocks that long still returns a third
        // of the lease before the claim would run out; here the polls are answered, and renewed between.
        append(2);
        try (FeedServer feed = FeedServer.builder(events).port(0).start()) {
            List<Long> first = Collections.synchronizedList(new ArrayList<>());
            List<Long> second = Collections.synchronizedList(new ArrayList<>());
            Subscription a = startOnFeed(feed, recorded -> first.add(recorded.position()));
            assertTrue(a.awaitPosition(2, Duration.ofSeconds(10)));
            long claimedUntil = leaseUntil();
            Subscription b = startOnFeed(feed, recorded -> second.add(recorded.position()));
            await(() -> b.state() == Subscription.State.STANDBY, "the second stands by");

            long until = System.nanoTime() + FEED_LEASE.dividedBy(3).plusSeconds(5).toNanos();
            while (leaseUntil() == claimedUntil) {        // eleven long polls, then the renewal
                assertTrue(System.nanoTime() - until < 0, "the claim was not renewed within a third of its lease");
                assertEquals(Subscription.State.RUNNING, a.state(), "the first keeps its claim across its long polls");
                assertEquals(Subscription.State.STANDBY, b.state());
                Thread.sleep(20);
            }
            assertTrue(leaseUntil() > claimedUntil, "renewed further");
            assertEquals(Subscription.State.RUNNING, a.state());
            append(2);
            assertTrue(a.awaitPosition(4, Duration.ofSeconds(10)));
            assertEquals(positions(1, 4), first);
            assertEquals(List.of(), second);
            b.stop();
            a.stop();   // before the feed stops: it would retry reading it meanwhile
        }
    }

    @Test
    void aSourceCheckThatLongPolledIsFollowedByARenewalBeforeTheNextRead() throws Exception {
        // A feed whose service came back behind the subscription (its store catching up): the check of the
        // position long-polls until the event there is back, then the next read long-polls too. The claim is
        // renewed between the two, so that no read starts with less than two thirds of the lease left: a wait
        // of a third still leaves a third for the answer and the renewal.
        append(2);
        EventSource log = EventSource.all(events);
        long waitMillis = 1_000;
        List<Long> leftAtReads = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger reads = new AtomicInteger();
        EventSource comingBack = new EventSource() {
            @Override
            public List<RecordedEvent> read(long after, int maxCount) {
                leftAtReads.add(leaseLeftMillis());
                int read = reads.incrementAndGet();
                if (read == 1) {
                    return log.read(after, maxCount);       // events 1 and 2
                }
                if (read == 2) {
                    sleepQuietly(800);                      // within the renewal due at 1 s
                    throw new FluxException("the feed's service went away (test)");
                }
                sleepQuietly(waitMillis);                   // the check, then empty long polls
                return after == 1 && maxCount == 1 ? log.read(after, maxCount) : List.of();
            }

            @Override
            public long cursorOf(RecordedEvent event) {
                return log.cursorOf(event);
            }

            @Override
            public long end() {
                return log.end();
            }

            @Override
            public boolean waitsForEvents() {
                return true;
            }

            @Override
            public Duration longestWait() {
                return Duration.ofMillis(waitMillis);
            }
        };
        Subscription a = Subscription.builder(comingBack)
                .name("balances", new MongoOffsetStore(database.database()))
                .claimLease(Duration.ofSeconds(3))
                .checkpointEvery(1)
                .errorDelay(Duration.ofMillis(1), Duration.ofMillis(1))
                .onRecorded(recorded -> { })
                .start();
        subscriptions.add(a);

        await(() -> reads.get() >= 5, "the check and two long polls after it");
        a.stop();

        assertEquals(Subscription.State.STOPPED, a.state());
        for (long left : new ArrayList<>(leftAtReads)) {
            assertTrue(left >= 1_700, "a read started with " + left + " ms of the 3 s lease left: " + leftAtReads);
        }
    }

    /** When the claim on "balances" runs out, in milliseconds since the epoch. */
    private long leaseUntil() {
        return database.database().getCollection("flux_offsets").find(Filters.eq("_id", "balances")).first()
                .getLong("leaseUntil");
    }

    /** How long the claim on "balances" runs on, in milliseconds. */
    private long leaseLeftMillis() {
        Document claim = database.database().getCollection("flux_offsets").find(Filters.eq("_id", "balances")).first();
        return claim.getLong("leaseUntil") - System.currentTimeMillis();
    }

    private Subscription startOnFeed(FeedServer feed, Consumer<RecordedEvent> handler) {
        Subscription subscription = Subscription.builder(HttpEventSource.of(feed.uri(), Duration.ofSeconds(1)))
                .name("balances", new MongoOffsetStore(database.database()))
                .claimLease(FEED_LEASE)
                .checkpointEvery(1)
                .pollInterval(Duration.ofMillis(50))
                .onRecorded(handler::accept)
                .start();
        subscriptions.add(subscription);
        return subscription;
    }

    private Subscription start(Duration lease, Consumer<RecordedEvent> handler) {
        return start(new MongoOffsetStore(database.database()), lease, handler, UnaryOperator.identity());
    }

    private Subscription start(Duration lease, Consumer<RecordedEvent> handler, UnaryOperator<Subscription.Builder> options) {
        return start(new MongoOffsetStore(database.database()), lease, handler, options);
    }

    private Subscription start(OffsetStore offsets, Duration lease, Consumer<RecordedEvent> handler,
                               UnaryOperator<Subscription.Builder> options) {
        Subscription subscription = options.apply(Subscription.builder(EventSource.all(events))
                .name("balances", offsets)
                .claimLease(lease)
                .checkpointEvery(1)
                .pollInterval(Duration.ofMillis(50))
                .onRecorded(handler::accept))
                .start();
        subscriptions.add(subscription);
        return subscription;
    }

    /** Gives the claim on "balances" to an owner no subscription has, for {@code lease}, as another process would take it. */
    private void takeClaimAsAnotherProcess(Duration lease) {
        database.database().getCollection("flux_offsets").updateOne(Filters.eq("_id", "balances"), Updates.combine(
                Updates.set("owner", "another process"),
                Updates.set("leaseUntil", System.currentTimeMillis() + lease.toMillis())));
    }

    /**
     * A process's view of the shared offsets: while {@link #down} its claims and deletes fail (its server
     * is away from it, but not from the other processes), after waiting for {@link #answer} when that is
     * set; {@link #downFromDelete} takes it down at its first delete.
     */
    private final class ProcessOffsets implements OffsetStore {
        final MongoOffsetStore shared = new MongoOffsetStore(database.database());
        volatile boolean down;
        volatile boolean downFromDelete;
        volatile CountDownLatch answer;
        /** Runs once, just before the next save or delete under a claim. */
        volatile Runnable beforeSave;
        final CountDownLatch claimWaiting = new CountDownLatch(1);
        final AtomicInteger refused = new AtomicInteger();
        final AtomicInteger failedClaims = new AtomicInteger();
        final AtomicInteger failedDeletes = new AtomicInteger();
        final List<Long> savedAfterAFailedClaim = Collections.synchronizedList(new ArrayList<>());
        /** The positions its saves under the claim stored, in order. */
        final List<Long> saved = Collections.synchronizedList(new ArrayList<>());

        ProcessOffsets() {
            processOffsets.add(this);
        }

        void answerAgain() {
            CountDownLatch wait = answer;
            if (wait != null) {
                wait.countDown();
            }
        }

        @Override
        public boolean claim(String name, String owner, Duration lease) {
            CountDownLatch wait = answer;
            if (wait != null) {
                claimWaiting.countDown();
                awaitQuietly(wait);
            }
            if (down) {
                failedClaims.incrementAndGet();
                throw new FluxException("claim '" + name + "': the server is unreachable (test)");
            }
            boolean claimed = shared.claim(name, owner, lease);
            if (!claimed) {
                refused.incrementAndGet();
            }
            return claimed;
        }

        @Override
        public void release(String name, String owner) {
            shared.release(name, owner);
        }

        @Override
        public long load(String name) {
            return shared.load(name);
        }

        @Override
        public OptionalLong find(String name) {
            return shared.find(name);
        }

        @Override
        public void save(String name, long position) {
            if (failedClaims.get() > 0) {
                savedAfterAFailedClaim.add(position);
            }
            shared.save(name, position);
        }

        @Override
        public boolean saveClaimed(String name, long position, String owner) {
            Runnable hook = beforeSave;
            beforeSave = null;
            if (hook != null) {
                hook.run();
            }
            if (failedClaims.get() > 0) {
                savedAfterAFailedClaim.add(position);
            }
            boolean stored = shared.saveClaimed(name, position, owner);
            if (stored) {
                saved.add(position);
            }
            return stored;
        }

        @Override
        public boolean deleteClaimed(String name, String owner) {
            Runnable hook = beforeSave;
            beforeSave = null;
            if (hook != null) {
                hook.run();
            }
            if (down || downFromDelete) {
                delete(name);   // fails, as its server is away
            }
            return shared.deleteClaimed(name, owner);
        }

        @Override
        public void delete(String name) {
            Runnable hook = beforeSave;
            beforeSave = null;
            if (hook != null) {
                hook.run();
            }
            if (downFromDelete) {
                downFromDelete = false;
                down = true;
            }
            if (down) {
                failedDeletes.incrementAndGet();
                throw new FluxException("delete '" + name + "': the server is unreachable (test)");
            }
            shared.delete(name);
        }
    }

    private void append(int count) {
        long version = events.streamVersion("Account-1");
        for (int i = 0; i < count; i++) {
            version = events.append("Account-1", version == ExpectedVersion.NO_STREAM ? ExpectedVersion.NO_STREAM : version,
                    List.of(EventData.of("AccountCredited", "{\"amount\":1}".getBytes(StandardCharsets.UTF_8), Map.of())));
        }
    }

    private static List<Long> positions(long from, long to) {
        return LongStream.rangeClosed(from, to).boxed().toList();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting: " + what);
            Thread.sleep(10);
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
