package dev.flux.mongo;

import com.mongodb.MongoException;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server goes away and comes back on the same port. The in-process server's data lives in a
 * {@link MemoryBackend} that this test keeps across the restart (its {@code close} is a no-op), as
 * a real server keeps its data files; so "nothing acknowledged is lost" is checked against the
 * store, not assumed.
 */
class MongoServerOutageTest {
    private final MemoryBackend backend = new MemoryBackend() {
        @Override
        public void close() {
            // keep the data, as a restarted mongod keeps its files
        }
    };
    private MongoServer server;
    private InetSocketAddress address;
    private MongoClient client;
    private MongoEventStore store;

    @BeforeEach
    void startServer() {
        server = new MongoServer(backend);
        server.bind("127.0.0.1", 0);
        address = server.getLocalAddress();
        System.out.println("MongoServerOutageTest runs against its own in-process mongo-java-server at " + address);
        client = MongoClients.create(MongoTestServer.settings("mongodb://127.0.0.1:" + address.getPort()
                + "/?serverSelectionTimeoutMS=1000&heartbeatFrequencyMS=500"));
        store = new MongoEventStore(client.getDatabase("outage"));
    }

    @AfterEach
    void stopServer() {
        store.close();
        client.close();
        server.shutdownNow();
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void appendsFailClearlyWhileTheServerIsDownAndSucceedOnceItIsBack() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(2));
        List<RecordedEvent> before = store.readAll(0, 100);

        server.shutdownNow();
        FluxException append = assertThrows(FluxException.class,
                () -> store.append("account-1", 1, events(1)));
        // The failure made the store forget the end of the log: this append first reads it, and fails there.
        FluxException again = assertThrows(FluxException.class,
                () -> store.append("account-1", 1, events(1)));
        FluxException read = assertThrows(FluxException.class, () -> store.readAll(0, 100));
        restart();
        long version = eventually(() -> store.append("account-1", 1, events(1)));

        System.out.println("while the server was down: " + append.getMessage());
        assertTrue(append.getMessage().contains("account-1") && append.getMessage().contains("outage.flux_events"),
                append.getMessage());
        assertInstanceOf(MongoException.class, append.getCause());
        assertTrue(again.getMessage().contains("stream 'account-1'") && again.getMessage().contains("nothing was written")
                && again.getMessage().contains("outage.flux_events"), again.getMessage());
        assertInstanceOf(MongoException.class, read.getCause());
        assertEquals(2, version);
        List<RecordedEvent> after = store.readAll(0, 100);
        assertEquals(before, after.subList(0, 2), "what was there before the outage is still there");
        assertEquals(3, after.size());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void nothingAcknowledgedIsLostWhenTheServerGoesAwayMidRun() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            Set<UUID> acknowledged = ConcurrentHashMap.newKeySet();
            AtomicInteger failed = new AtomicInteger();
            AtomicInteger appendsAfterRestart = new AtomicInteger();
            List<Future<?>> writers = new ArrayList<>();
            CountDownLatch someWritten = new CountDownLatch(4 * 20);
            CountDownLatch restarted = new CountDownLatch(1);
            for (int w = 0; w < 4; w++) {
                String streamId = "writer-" + w;
                writers.add(pool.submit(() -> {
                    while (appendsAfterRestart.get() < 100) {
                        List<EventData> batch = events(1 + acknowledged.size() % 3);
                        try {
                            store.append(streamId, ExpectedVersion.ANY, batch);
                            batch.forEach(event -> acknowledged.add(event.eventId()));
                            someWritten.countDown();
                            if (restarted.getCount() == 0) {
                                appendsAfterRestart.incrementAndGet();
                            }
                        } catch (FluxException e) {
                            failed.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            assertTrue(someWritten.await(30, TimeUnit.SECONDS), "writers got going");

            server.shutdownNow();
            eventually(() -> failed.get() >= 4 ? failed.get() : null);
            restart();
            restarted.countDown();
            for (Future<?> writer : writers) {
                writer.get(40, TimeUnit.SECONDS);
            }

            List<RecordedEvent> all = new ArrayList<>();
            for (List<RecordedEvent> page = store.readAll(0, 500); !page.isEmpty();
                 page = store.readAll(all.get(all.size() - 1).position(), 500)) {
                all.addAll(page);
            }
            Set<UUID> stored = new HashSet<>();
            for (int i = 0; i < all.size(); i++) {
                assertTrue(stored.add(all.get(i).eventId()), "event stored once: " + all.get(i));
                assertTrue(i == 0 || all.get(i).position() > all.get(i - 1).position(), "positions grow");
            }
            assertTrue(stored.containsAll(acknowledged), "every acknowledged event survived the outage");
            assertTrue(failed.get() > 0, "the outage was noticed by the writers");
            System.out.println("outage run: " + acknowledged.size() + " events acknowledged, " + failed.get()
                    + " appends failed during the outage, " + (stored.size() - acknowledged.size())
                    + " events of failed appends were in fact written");
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aServerThatStopsAnsweringMidAppendFailsItWithinTheConnectionStringsTimeoutMS() throws Exception {
        // A server that stops answering without closing its connections (a partition, a frozen VM): the driver waits
        // for an answer as long as its timeouts let it, by default for good, and every append of the process queues
        // behind the one in flight. The README tells users to bound it with timeoutMS; this holds the store to it.
        AtomicBoolean frozen = new AtomicBoolean();
        List<Socket> sockets = new CopyOnWriteArrayList<>();
        try (ServerSocket proxy = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             MongoClient viaProxy = MongoClients.create("mongodb://127.0.0.1:" + proxy.getLocalPort()
                     + "/?timeoutMS=1000&heartbeatFrequencyMS=500")) {
            Thread acceptor = new Thread(() -> forward(proxy, frozen, sockets), "proxy");
            acceptor.setDaemon(true);
            acceptor.start();
            MongoEventStore frozenStore = new MongoEventStore(viaProxy.getDatabase("outage"));
            frozenStore.append("account-1", ExpectedVersion.NO_STREAM, events(1));

            frozen.set(true);
            long start = System.nanoTime();
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<Long> first = pool.submit(() -> frozenStore.append("account-1", 0, events(1)));
                Future<Long> queued = pool.submit(() -> frozenStore.append("account-2", ExpectedVersion.NO_STREAM, events(1)));
                for (Future<Long> append : List.of(first, queued)) {
                    ExecutionException failed = assertThrows(ExecutionException.class, () -> append.get(30, TimeUnit.SECONDS));
                    assertInstanceOf(FluxException.class, failed.getCause());
                    assertTrue(failed.getCause().getMessage().contains("outage.flux_events"), failed.getCause().getMessage());
                }
            } finally {
                pool.shutdownNow();
            }
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            frozenStore.close();

            assertTrue(tookMillis < 15_000, "both appends failed after " + tookMillis + " ms");
        } finally {
            for (Socket socket : sockets) {
                socket.close();
            }
        }
    }

    /** Forwards each connection to the server until {@code frozen}, then holds what comes, answering nothing. */
    private void forward(ServerSocket proxy, AtomicBoolean frozen, List<Socket> sockets) {
        while (!proxy.isClosed()) {
            try {
                Socket in = proxy.accept();
                Socket out = new Socket(address.getAddress(), address.getPort());
                sockets.add(in);
                sockets.add(out);
                for (Socket[] pair : List.of(new Socket[] {in, out}, new Socket[] {out, in})) {
                    Thread pump = new Thread(() -> {
                        byte[] buffer = new byte[8192];
                        try {
                            for (int n; (n = pair[0].getInputStream().read(buffer)) >= 0; ) {
                                if (!frozen.get()) {
                                    pair[1].getOutputStream().write(buffer, 0, n);
                                }
                            }
                        } catch (IOException closed) {
                            // the test is over
                        }
                    }, "proxy-pump");
                    pump.setDaemon(true);
                    pump.start();
                }
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void restart() {
        server = new MongoServer(backend);
        server.bind(address.getHostString(), address.getPort());
    }

    /** Retries {@code action} until it returns a value without throwing, or 20 seconds pass. */
    private static <T> T eventually(Supplier<T> action) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                T value = action.get();
                if (value != null) {
                    return value;
                }
            } catch (FluxException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no result within 20 seconds");
            }
            LockSupport.parkNanos(10_000_000);
        }
    }

    private static List<EventData> events(int count) {
        List<EventData> events = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            events.add(EventData.of("Written", "{}".getBytes(StandardCharsets.UTF_8), Map.of()));
        }
        return events;
    }
}
