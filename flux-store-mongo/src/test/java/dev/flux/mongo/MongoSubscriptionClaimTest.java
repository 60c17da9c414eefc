package dev.flux.mongo;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two processes running a subscription of one name on one MongoDB offsets collection (two
 * {@link MongoOffsetStore} objects, as two processes would have): one handles events, the other
 * stands by and takes over where the first stopped, or when the first's claim ran out.
 */
class MongoSubscriptionClaimTest {
    private TestDatabase database;
    private MongoEventStore events;
    private final List<Subscription> subscriptions = new ArrayList<>();

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
        assertEquals(5, new MongoOffsetStore(database.database()).load("balances"));
    }

    @Test
    void aSubscriptionStandingByStopsAtOnceAndLeavesTheOthersClaimAndOffsetAlone() throws Exception {
        append(2);
        Subscription a = start(Duration.ofSeconds(30), recorded -> { });
        assertTrue(a.awaitPosition(2, Duration.ofSeconds(10)));
        Subscription b = start(Duration.ofSeconds(30), recorded -> { });
        await(() -> b.state() == Subscription.State.STANDBY, "the second stands by");

        assertTrue(b.stop(Duration.ofSeconds(5)));

        assertEquals(Subscription.State.STOPPED, b.state());
        MongoOffsetStore offsets = new MongoOffsetStore(database.database());
        assertEquals(2, offsets.load("balances"));
        assertFalse(offsets.claim("balances", "someone else", Duration.ofSeconds(1)), "the first still holds the claim");
        a.stop();
        assertTrue(offsets.claim("balances", "someone else", Duration.ofSeconds(1)), "released on stop");
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

    private Subscription start(Duration lease, Consumer<RecordedEvent> handler) {
        Subscription subscription = Subscription.builder(EventSource.all(events))
                .name("balances", new MongoOffsetStore(database.database()))
                .claimLease(lease)
                .checkpointEvery(1)
                .pollInterval(Duration.ofMillis(50))
                .onRecorded(handler::accept)
                .start();
        subscriptions.add(subscription);
        return subscription;
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

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
