package dev.flux.mongo;

import com.mongodb.MongoClientSettings;
import com.mongodb.MongoTimeoutException;
import com.mongodb.MongoBulkWriteException;
import com.mongodb.MongoException;
import com.mongodb.MongoWriteException;
import com.mongodb.ReadConcern;
import com.mongodb.ServerAddress;
import com.mongodb.WriteError;
import com.mongodb.bulk.BulkWriteResult;
import com.mongodb.bulk.WriteConcernError;
import com.mongodb.ReadPreference;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.event.CommandListener;
import com.mongodb.event.CommandStartedEvent;
import com.mongodb.event.CommandSucceededEvent;
import dev.flux.ConcurrencyConflictException;
import dev.flux.DuplicateEventIdException;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.snapshot.Snapshot;
import org.bson.BsonArray;
import org.bson.BsonBinary;
import org.bson.BsonDateTime;
import org.bson.BsonDocument;
import org.bson.BsonInt32;
import org.bson.BsonInt64;
import org.bson.BsonObjectId;
import org.bson.BsonString;
import org.bson.RawBsonDocument;
import org.bson.codecs.BsonDocumentCodec;
import org.bson.types.ObjectId;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
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
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the contract cannot see: the document layout, and two store objects on one database (as two
 * processes are), whose position and version claims race through the unique indexes.
 */
class MongoEventStoreBehaviourTest {
    private TestDatabase database;
    private MongoEventStore first;
    private MongoEventStore second;

    /** The server these tests run against. */
    protected MongoTestServer server() {
        return MongoTestServer.inProcess();
    }

    @BeforeEach
    void openTwoStores() {
        database = server().newDatabase();
        first = new MongoEventStore(database.database());
        second = new MongoEventStore(database.database());
    }

    @AfterEach
    void close() {
        first.close();
        second.close();
        database.close();
    }

    @Test
    @Timeout(60)
    void anAppendWhoseGroupAnotherThreadInsertedFirstIsStillInsertedByItsOwnThread() throws Exception {
        // Groups of one: B takes the lock first and inserts the front of the queue, A's append; B's own
        // append must not be left waiting for a holder that never comes (A finds its append done and leaves).
        first.maxGroup = 1;
        CountDownLatch aQueued = new CountDownLatch(1);
        CountDownLatch bDone = new CountDownLatch(1);
        first.afterQueued = () -> {
            if (Thread.currentThread().getName().equals("appender-A")) {
                aQueued.countDown();
                awaitQuietly(bDone, 20);        // A takes the lock only after B is done (or 20 s)
            }
        };
        ExecutorService a = Executors.newSingleThreadExecutor(r -> new Thread(r, "appender-A"));
        ExecutorService b = Executors.newSingleThreadExecutor(r -> new Thread(r, "appender-B"));
        try {
            Future<Long> aVersion = a.submit(() -> first.append("account-a", ExpectedVersion.NO_STREAM, events(1)));
            assertTrue(aQueued.await(10, TimeUnit.SECONDS));
            Future<Long> bVersion = b.submit(() -> {
                long version = first.append("account-b", ExpectedVersion.NO_STREAM, events(2));
                bDone.countDown();
                return version;
            });

            assertTrue(bDone.await(15, TimeUnit.SECONDS), "B's append was left waiting after its thread inserted A's");
            assertEquals(1, bVersion.get());
            assertEquals(0, aVersion.get(10, TimeUnit.SECONDS));
            assertEquals(3, first.lastPosition());
        } finally {
            first.afterQueued = null;
            a.shutdownNow();
            b.shutdownNow();
        }
    }

    @Test
    @Timeout(60)
    void anAppendFromAnInterruptedThreadIsWrittenWithItsGroupAndTheThreadKeepsItsFlag() throws Exception {
        MongoEventStore store = new MongoEventStore(database.database());
        Set<String> leftInterrupted = ConcurrentHashMap.newKeySet();
        List<EventData> alone = events(1);

        Future<Long> version = appendAsOneGroup(store, Map.of("account-alone", alone), Set.of("account-alone"),
                leftInterrupted).get(0);

        assertEquals(0, version.get(), "written, not refused for the interrupt");
        assertEquals(alone.get(0).eventId(), first.readStream("account-alone", 0, 10).get(0).eventId());
        assertEquals(Set.of("account-alone"), leftInterrupted, "the thread still sees its interrupt");

        leftInterrupted.clear();
        List<EventData> a = events(1);
        List<EventData> b = events(1);

        List<Future<Long>> versions = appendAsOneGroup(store, Map.of("account-a", a, "account-b", b),
                Set.of("account-a"), leftInterrupted);   // as an executor's shutdownNow() leaves a task

        assertEquals(0, versions.get(0).get());
        assertEquals(0, versions.get(1).get());
        assertEquals(a.get(0).eventId(), first.readStream("account-a", 0, 10).get(0).eventId());
        assertEquals(b.get(0).eventId(), first.readStream("account-b", 0, 10).get(0).eventId());
        assertEquals(Set.of("account-a"), leftInterrupted, "the interrupted thread still sees its interrupt");
    }

    @Test
    @Timeout(60)
    void anErrorWhileInsertingAGroupReachesEveryAppendOfItAsThatError() throws Exception {
        try (MongoClient client = clientRunningOn("insert", command -> {
            throw new OutOfMemoryError("simulated while inserting");
        })) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));

            List<Future<Long>> versions = appendAsOneGroup(store,
                    Map.of("account-a", events(1), "account-b", events(1)), Set.of(), ConcurrentHashMap.newKeySet());

            for (Future<Long> version : versions) {
                Throwable failure = assertThrows(ExecutionException.class, version::get).getCause();
                assertInstanceOf(OutOfMemoryError.class, failure);
                assertEquals("simulated while inserting", failure.getMessage());
            }
        }
    }

    @Test
    void anAppendStillWaitingWhenAConnectedStoreClosesFailsNamingItsStreamAndIsNotWritten() {
        MongoEventStore connected = MongoEventStore.connect(connectionStringOf(database));
        connected.afterQueued = connected::close; // the close lands after the append began

        IllegalStateException failure = assertThrows(IllegalStateException.class,
                () -> connected.append("account-1", ExpectedVersion.NO_STREAM, events(1)));

        assertTrue(failure.getMessage().contains(database.database().getName() + ".flux_events is closed")
                && failure.getMessage().contains("stream 'account-1'")
                && failure.getMessage().contains("not written"), failure.getMessage());
        assertEquals(ExpectedVersion.NO_STREAM, first.streamVersion("account-1"));
        assertThrows(IllegalStateException.class, () -> connected.append("account-1", ExpectedVersion.NO_STREAM, events(1)));
    }

    @Test
    void writersPlaceACommitOnlyAfterWhatAMajorityHasSoAFailoverCannotLeaveAHoleBehindAReader() {
        List<BsonDocument> finds = new CopyOnWriteArrayList<>();
        try (MongoClient client = clientRunningOn("find", command -> finds.add(command.clone()))) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));

            store.append("account-1", ExpectedVersion.NO_STREAM, events(1));

            BsonDocument endOfLog = finds.stream()
                    .filter(find -> find.containsKey("sort") && find.getDocument("sort").containsKey("_id"))
                    .findFirst().orElseThrow(() -> new AssertionError("no read of the end of the log in " + finds));
            assertEquals("majority", endOfLog.getDocument("readConcern", new BsonDocument()).getString("level",
                    new BsonString("none")).getValue(), endOfLog.toJson());
        }
    }

    @Test
    void anAnyAppendBuildsOnlyOnTheStreamAsAMajorityHasItSoAFailoverCannotLeaveItAfterAVersionRolledBack() {
        first.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        List<BsonDocument> finds = new CopyOnWriteArrayList<>();
        try (MongoClient client = clientRunningOn("find", command -> finds.add(command.clone()))) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));

            long version = store.append("account-1", ExpectedVersion.ANY, events(1));

            assertEquals(1, version);
            assertEquals(List.of("majority"), readConcernsOfStreamHeadReads(finds));
        }
    }

    @Test
    void anExactExpectedVersionIsCheckedAgainstThePrimarysNewestSoALaggingMajorityViewCannotRefuseItFalsely() {
        first.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        List<BsonDocument> finds = new CopyOnWriteArrayList<>();
        try (MongoClient client = clientRunningOn("find", command -> finds.add(command.clone()))) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));

            long version = store.append("account-1", 0, events(1));

            assertEquals(1, version);
            assertEquals(List.of("local"), readConcernsOfStreamHeadReads(finds));
        }
    }

    @Test
    void theEndsOfTheLogAndOfAStreamAreReadFromThePrimaryWhateverTheDatabasesReadPreference() {
        List<BsonDocument> finds = new CopyOnWriteArrayList<>();
        try (MongoClient client = clientRunningOn("find", command -> finds.add(command.clone()))) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName())
                    .withReadPreference(ReadPreference.secondaryPreferred()));
            store.append("account-1", ExpectedVersion.NO_STREAM, events(2));
            finds.clear();

            long end = store.lastPosition();
            long version = store.streamVersion("account-1");
            store.readAll(0, 10);

            assertEquals(2, end);
            assertEquals(1, version);
            assertEquals(List.of("primary", "primary", "secondaryPreferred"), readPreferencesOf(finds),
                    "a secondary may lag behind a position a subscription already read");
        }
    }

    @Test
    void aStoredOffsetIsReadFromThePrimaryWhateverTheDatabasesReadPreference() {
        List<BsonDocument> finds = new CopyOnWriteArrayList<>();
        try (MongoClient client = clientRunningOn("find", command -> finds.add(command.clone()))) {
            MongoOffsetStore offsets = new MongoOffsetStore(client.getDatabase(database.database().getName())
                    .withReadPreference(ReadPreference.secondaryPreferred()));
            offsets.save("balances", 7);

            OptionalLong stored = offsets.find("balances");

            assertEquals(OptionalLong.of(7), stored);
            assertEquals(List.of("primary"), readPreferencesOf(finds),
                    "a secondary may not have the first save yet, and a subscription starting at the end would skip to it");
        }
    }

    /** The read preference modes of {@code finds}, in order. */
    private static List<String> readPreferencesOf(List<BsonDocument> finds) {
        return finds.stream()
                .map(find -> find.getDocument("$readPreference", new BsonDocument("mode", new BsonString("primary")))
                        .getString("mode").getValue())
                .toList();
    }

    /** The read concern levels of the reads of a stream's last commit among {@code finds}, in order. */
    private static List<String> readConcernsOfStreamHeadReads(List<BsonDocument> finds) {
        return finds.stream()
                .filter(find -> find.getDocument("filter", new BsonDocument()).containsKey("stream")
                        && find.getDocument("sort", new BsonDocument()).getInt32("firstVersion", new BsonInt32(0)).getValue() == -1)
                .map(find -> find.getDocument("readConcern", new BsonDocument()).getString("level",
                        new BsonString("none")).getValue())
                .toList();
    }

    @Test
    @Timeout(60)
    void closeWaitsForAnInsertInFlightOnlyForItsGrace() throws Exception {
        CountDownLatch inserting = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (MongoClient client = clientRunningOn("insert", command -> {
            inserting.countDown();
            awaitQuietly(release, 30);      // an insert waiting for a majority that does not come
        })) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));
            store.closeGraceNanos = TimeUnit.MILLISECONDS.toNanos(200);
            ExecutorService appender = Executors.newSingleThreadExecutor();
            try {
                Future<Long> append = appender.submit(() -> store.append("account-1", ExpectedVersion.NO_STREAM, events(1)));
                assertTrue(inserting.await(10, TimeUnit.SECONDS));

                long started = System.nanoTime();
                store.close();
                long took = System.nanoTime() - started;

                assertTrue(took >= TimeUnit.MILLISECONDS.toNanos(200) && took < TimeUnit.SECONDS.toNanos(10),
                        "close waited " + TimeUnit.NANOSECONDS.toMillis(took) + " ms");
                release.countDown();
                assertEquals(0, append.get(10, TimeUnit.SECONDS), "the insert in flight goes on (the client is not the store's)");
                assertThrows(IllegalStateException.class, () -> store.append("account-2", ExpectedVersion.NO_STREAM, events(1)));
            } finally {
                release.countDown();
                appender.shutdownNow();
            }
        }
    }

    @Test
    void everyCallOnAClientClosedUnderTheStoreIsAFluxExceptionNamingWhatAndWhere() {
        MongoClient client = MongoClients.create(MongoTestServer.settings(server().connectionString()));
        MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));
        store.append("account-1", ExpectedVersion.NO_STREAM, events(2));
        UUID eventId = store.readAll(0, 1).get(0).eventId();
        String where = database.database().getName() + ".flux_events";

        client.close();     // the user closed their client and kept using the store

        Map<String, Executable> calls = new LinkedHashMap<>();
        calls.put("stream 'account-1'", () -> store.append("account-1", 1, events(1)));
        calls.put("stream 'account-2'", () -> store.append("account-2", ExpectedVersion.NO_STREAM, events(1)));
        calls.put("stream 'account-3'", () -> store.append("account-3", ExpectedVersion.ANY, events(1)));
        calls.put("read stream 'account-1' from version 1", () -> store.readStream("account-1", 1, 10));
        calls.put("version of stream 'account-1'", () -> store.streamVersion("account-1"));
        calls.put("global log after position 0", () -> store.readAll(0, 10));
        calls.put("category 'account'", () -> store.readCategory("account", 0, 10));
        calls.put("event " + eventId, () -> store.readEvent(eventId));
        calls.put("last position", store::lastPosition);
        calls.put("create the indexes", () -> new MongoEventStore(client.getDatabase(database.database().getName())));

        assertEquals(Map.of(), failuresNotNaming(where, calls), "calls that failed otherwise");
        store.close();
    }

    @Test
    void offsetAndSnapshotCallsOnAClosedClientAreFluxExceptionsNamingWhatAndWhere() {
        MongoClient client = MongoClients.create(MongoTestServer.settings(server().connectionString()));
        MongoOffsetStore offsets = new MongoOffsetStore(client.getDatabase(database.database().getName()));
        MongoSnapshotStore snapshots = new MongoSnapshotStore(client.getDatabase(database.database().getName()));
        Snapshot snapshot = new Snapshot("account-1", 1, "Account", "{}".getBytes(StandardCharsets.UTF_8), Instant.now());
        String name = database.database().getName();

        client.close();

        Map<String, Executable> offsetCalls = new LinkedHashMap<>();
        offsetCalls.put("load the offset of 'balances'", () -> offsets.load("balances"));
        offsetCalls.put("save offset 7 of 'balances'", () -> offsets.save("balances", 7));
        offsetCalls.put("delete the offset of 'balances'", () -> offsets.delete("balances"));
        Map<String, Executable> snapshotCalls = new LinkedHashMap<>();
        snapshotCalls.put("load the snapshot of account-1", () -> snapshots.load("account-1"));
        snapshotCalls.put("save the snapshot of account-1@1", () -> snapshots.save(snapshot));
        snapshotCalls.put("delete the snapshot of account-1", () -> snapshots.delete("account-1"));

        assertEquals(Map.of(), failuresNotNaming(name + ".flux_offsets", offsetCalls), "offset calls that failed otherwise");
        assertEquals(Map.of(), failuresNotNaming(name + ".flux_snapshots", snapshotCalls), "snapshot calls that failed otherwise");
    }

    @Test
    void aSnapshotSaveWhoseUpsertMeetsARacingFirstSaveStillLeavesTheNewer() {
        // On MongoDB an upsert is not atomic: two first saves of a stream can both find no document, and the one
        // inserting second meets the other's _id (E11000). The in-process server never interleaves them, so the test
        // plays the race: the racing older save lands just as the first upsert is made, which then gets the answer
        // MongoDB gives the loser.
        String name = database.database().getName();
        MongoSnapshotStore racing = new MongoSnapshotStore(database.database());
        AtomicBoolean raced = new AtomicBoolean();
        MongoSnapshotStore snapshots = new MongoSnapshotStore(intercepting(database.database(), (method, proceed) -> {
            if (method.equals("replaceOne") && !raced.getAndSet(true)) {
                racing.save(new Snapshot("account-1", 3, "Account", "{\"v\":3}".getBytes(StandardCharsets.UTF_8), Instant.now()));
                throw new MongoWriteException(new WriteError(11000, "E11000 duplicate key error collection: " + name
                        + ".flux_snapshots index: _id_ dup key: { _id: \"account-1\" }", new BsonDocument()),
                        new ServerAddress(), Set.of());
            }
            return proceed.call();
        }));

        snapshots.save(new Snapshot("account-1", 7, "Account", "{\"v\":7}".getBytes(StandardCharsets.UTF_8), Instant.now()));

        assertTrue(raced.get());
        Snapshot held = racing.load("account-1").orElseThrow();
        assertEquals(7, held.version(), "the newer snapshot stays");
        assertEquals("{\"v\":7}", new String(held.data(), StandardCharsets.UTF_8));
    }

    @Test
    void anAppendWhoseWriteConcernTheServerDidNotConfirmSaysTheServerHasItAndAFailoverMayRollItBack() {
        // A wtimeout that passed: the primary inserted the commit, and the answer carries a write concern error.
        MongoEventStore store = new MongoEventStore(intercepting(database.database(), (method, proceed) -> {
            Object result = proceed.call();
            if (method.equals("insertMany")) {
                throw new MongoBulkWriteException(BulkWriteResult.acknowledged(1, 0, 0, 0, List.of(), List.of()), List.of(),
                        new WriteConcernError(64, "WriteConcernFailed", "waiting for replication timed out", new BsonDocument()),
                        new ServerAddress(), Set.of());
            }
            return result;
        }));

        FluxException failure = assertThrows(FluxException.class,
                () -> store.append("account-1", ExpectedVersion.NO_STREAM, events(1)));

        String message = failure.getMessage();
        assertTrue(message.contains("stream 'account-1'") && message.contains("did not confirm its write concern {\"w\": \"majority\"}")
                && message.contains("a failover may roll them back") && message.contains("waiting for replication timed out"), message);
        assertEquals(0, first.streamVersion("account-1"), "the primary has it");
        store.close();
    }

    /** What a test does in place of, or around, a call of a database or one of its collections. */
    private interface Around {
        Object call(String method, Proceed proceed) throws Throwable;
    }

    /** The call itself. */
    private interface Proceed {
        Object call() throws Throwable;
    }

    /**
     * {@code database}, whose calls and its collections' calls go through {@code around}: a test plays a server's
     * answer the in-process server never gives.
     */
    private static MongoDatabase intercepting(MongoDatabase database, Around around) {
        return proxy(MongoDatabase.class, database, around);
    }

    @SuppressWarnings("unchecked")
    private static <T> T proxy(Class<T> type, T target, Around around) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (self, method, args) -> {
            Object result = around.call(method.getName(), () -> {
                try {
                    return method.invoke(target, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            });
            return result instanceof MongoCollection<?> collection ? proxy(MongoCollection.class, collection, around) : result;
        });
    }

    @Test
    void aReadThatCloseOvertakesFailsAsAClosedStoreNamingTheRead() {
        AtomicBoolean closeOnNextFind = new AtomicBoolean();
        AtomicReference<MongoEventStore> store = new AtomicReference<>();
        AtomicReference<MongoClient> client = new AtomicReference<>();
        client.set(MongoClients.create(MongoClientSettings.builder(MongoTestServer.settings(server().connectionString()))
                .addCommandListener(new CommandListener() {
                    @Override
                    public void commandSucceeded(CommandSucceededEvent event) {
                        if (event.getCommandName().equals("find") && closeOnNextFind.getAndSet(false)) {
                            store.get().close();    // a shutdown closes the store, then its client,
                            client.get().close();   // while a subscription's read is between two finds
                        }
                    }
                }).build()));
        store.set(new MongoEventStore(client.get().getDatabase(database.database().getName())));
        store.get().append("account-1", ExpectedVersion.NO_STREAM, events(2));
        closeOnNextFind.set(true);

        // A read from version 1 first finds the commit holding it, then reads from there.
        IllegalStateException closed = assertThrows(IllegalStateException.class,
                () -> store.get().readStream("account-1", 1, 10));

        assertTrue(closed.getMessage().contains(database.database().getName() + ".flux_events is closed")
                && closed.getMessage().contains("stream 'account-1'"), closed.getMessage());
    }

    @Test
    void aReadThatStopsBeforeItsCursorEndsClosesTheServerCursor() {
        // 1,001 commits of 2 events: a category read of 1,500 asks for 1,500 commits in batches of 1,000 and
        // has its events from the first batch, leaving a cursor open on the server unless the read closes it.
        List<String> killed = new CopyOnWriteArrayList<>();
        try (MongoClient client = clientRunningOn("killCursors", command -> killed.add(command.toJson()))) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));
            for (int i = 0; i <= 1000; i++) {
                store.append("account-" + i, ExpectedVersion.NO_STREAM, events(2));
            }

            assertEquals(1500, store.readCategory("account", 0, 1500).size());
            assertEquals(1, killed.size(), "killCursors sent after the read: " + killed);

            assertEquals(2002, store.readAll(0, 2002).size());      // read to its end: nothing left to close
            assertEquals(1, killed.size(), "killCursors sent after a read to the end: " + killed);
            store.close();
        }
    }

    /** The calls that did not throw a FluxException whose message names its key and {@code where}, with what they did. */
    private static Map<String, String> failuresNotNaming(String where, Map<String, Executable> calls) {
        Map<String, String> wrong = new LinkedHashMap<>();
        calls.forEach((names, call) -> {
            try {
                call.execute();
                wrong.put(names, "answered");
            } catch (FluxException e) {
                if (!e.getMessage().contains(names) || !e.getMessage().contains(where) || e.getCause() == null) {
                    wrong.put(names, e.toString());
                }
            } catch (Throwable e) {
                wrong.put(names, e.toString());
            }
        });
        return wrong;
    }

    /** A client of the test server that adds the BSON size of every answer it gets to {@code bytes}. */
    private MongoClient clientCountingAnswerBytes(AtomicLong bytes) {
        return MongoClients.create(MongoClientSettings.builder(MongoTestServer.settings(server().connectionString()))
                .addCommandListener(new CommandListener() {
                    @Override
                    public void commandSucceeded(CommandSucceededEvent event) {
                        bytes.addAndGet(bsonSize(event.getResponse()));
                    }
                }).build());
    }

    /** A client of the test server that runs {@code onCommand} on the thread sending each such command, before it is sent. */
    private MongoClient clientRunningOn(String command, Consumer<BsonDocument> onCommand) {
        return MongoClients.create(MongoClientSettings.builder(MongoTestServer.settings(server().connectionString()))
                .addCommandListener(new CommandListener() {
                    @Override
                    public void commandStarted(CommandStartedEvent event) {
                        if (event.getCommandName().equals(command)) {
                            onCommand.accept(event.getCommand());
                        }
                    }
                }).build());
    }

    /**
     * Appends to each stream from a thread of its own, all queued before any takes the position lock,
     * so one of them inserts them all together; the threads of the streams in {@code interrupted} are
     * interrupted before they append. Adds the streams whose threads end with their interrupt flag set to
     * {@code leftInterrupted}.
     */
    private static List<Future<Long>> appendAsOneGroup(MongoEventStore store, Map<String, List<EventData>> appends,
                                                       Set<String> interrupted, Set<String> leftInterrupted)
            throws InterruptedException {
        CountDownLatch queued = new CountDownLatch(appends.size());
        store.afterQueued = () -> {
            queued.countDown();
            awaitQuietly(queued, 10);
        };
        ExecutorService pool = Executors.newFixedThreadPool(appends.size());
        try {
            List<Future<Long>> versions = new ArrayList<>();
            appends.forEach((streamId, events) -> versions.add(pool.submit(() -> {
                if (interrupted.contains(streamId)) {
                    Thread.currentThread().interrupt();
                }
                try {
                    return store.append(streamId, ExpectedVersion.NO_STREAM, events);
                } finally {
                    if (Thread.currentThread().isInterrupted()) {
                        leftInterrupted.add(streamId);
                    }
                }
            })));
            return versions;
        } finally {
            pool.shutdown();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
    }

    private static void awaitQuietly(CountDownLatch latch, int seconds) {
        try {
            latch.await(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void anAppendIsOneDocumentHoldingItsEventsAndItsPositions() {
        first.append("account-1", ExpectedVersion.NO_STREAM, events(1));

        first.append("account-1", 0, events(3));

        List<BsonDocument> commits = database.database().getCollection("flux_events", BsonDocument.class)
                .find().into(new ArrayList<>());
        assertEquals(2, commits.size());
        BsonDocument commit = commits.stream().filter(c -> c.getInt64("firstVersion").getValue() == 1).findFirst().orElseThrow();
        assertEquals(2, commit.getInt64("firstPosition").getValue());
        assertEquals(4, commit.getInt64("_id").getValue());
        assertEquals(3, commit.getInt64("lastVersion").getValue());
        assertEquals("account", commit.getString("category").getValue());
        assertEquals(3, commit.getArray("events").size());
    }

    @Test
    void twoStoreObjectsTakingTurnsShareOneGaplessLog() {
        for (int i = 0; i < 10; i++) {
            MongoEventStore writer = i % 2 == 0 ? first : second;
            writer.append("turns-" + i, ExpectedVersion.NO_STREAM, events(1 + i % 3));
        }

        List<RecordedEvent> all = readAll(second);

        for (int i = 0; i < all.size(); i++) {
            assertEquals(i + 1, all.get(i).position());
        }
        assertEquals(all.size(), first.lastPosition());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void racingAnyAppendsFromTwoStoreObjectsAllLandAtGaplessVersions() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Set<UUID>>> writers = new ArrayList<>();
            for (int w = 0; w < 6; w++) {
                MongoEventStore store = w % 2 == 0 ? first : second;
                writers.add(pool.submit(() -> {
                    start.await();
                    Set<UUID> written = new HashSet<>();
                    for (int i = 0; i < 30; i++) {
                        List<EventData> batch = events(1 + i % 2);
                        store.append("busy-1", ExpectedVersion.ANY, batch);
                        batch.forEach(e -> written.add(e.eventId()));
                    }
                    return written;
                }));
            }
            start.countDown();
            Set<UUID> written = new HashSet<>();
            for (Future<Set<UUID>> writer : writers) {
                written.addAll(writer.get());
            }

            List<RecordedEvent> stream = first.readStream("busy-1", 0, Integer.MAX_VALUE);
            assertEquals(written.size(), stream.size());
            for (int v = 0; v < stream.size(); v++) {
                assertEquals(v, stream.get(v).version());
            }
            List<RecordedEvent> all = readAll(first);
            for (int i = 0; i < all.size(); i++) {
                assertEquals(i + 1, all.get(i).position(), "no gap in the global log");
            }
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void aWriterWhoseRememberedVersionIsStaleStillGetsAConflictAndAnyStillLands() {
        first.append("account-1", ExpectedVersion.NO_STREAM, events(1));  // first remembers version 0
        second.append("account-1", 0, events(2));                         // the stream moves to 2 behind its back

        ConcurrencyConflictException conflict = assertThrows(ConcurrencyConflictException.class,
                () -> first.append("account-1", 0, events(1)));
        long version = first.append("account-1", ExpectedVersion.ANY, events(1));

        assertEquals(2, conflict.actualVersion());
        assertEquals(3, version);
        assertEquals(List.of(0L, 1L, 2L, 3L),
                second.readStream("account-1", 0, 100).stream().map(RecordedEvent::version).toList());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void concurrentAppendsInsertedTogetherEachGetTheirOwnOutcome() throws Exception {
        EventData taken = events(1).get(0);
        first.append("taken-1", ExpectedVersion.NO_STREAM, List.of(taken));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<int[]>> writers = new ArrayList<>();
            Set<UUID> written = java.util.concurrent.ConcurrentHashMap.newKeySet();
            for (int w = 0; w < 8; w++) {
                String streamId = "group-" + w;
                writers.add(pool.submit(() -> {
                    start.await();
                    int duplicates = 0;
                    long version = ExpectedVersion.NO_STREAM;
                    for (int i = 0; i < 25; i++) {
                        if (i % 5 == 4) {
                            long expected = version;
                            assertThrows(DuplicateEventIdException.class,
                                    () -> first.append(streamId, expected, List.of(events(1).get(0), taken)));
                            duplicates++;
                        } else {
                            List<EventData> batch = events(1 + i % 3);
                            version = first.append(streamId, version, batch);
                            batch.forEach(e -> written.add(e.eventId()));
                        }
                    }
                    return new int[] {duplicates};
                }));
            }
            start.countDown();
            int duplicates = 0;
            for (Future<int[]> writer : writers) {
                duplicates += writer.get()[0];
            }

            List<RecordedEvent> all = readAll(second);
            assertEquals(8 * 5, duplicates);
            assertEquals(written.size() + 1, all.size(), "every acknowledged event, once, and nothing refused");
            for (int i = 0; i < all.size(); i++) {
                assertEquals(i + 1, all.get(i).position(), "no gap where a refused append was");
                assertTrue(i == 0 || written.contains(all.get(i).eventId()));
            }
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void anEventIdAnotherWriterAppendedIsReportedAsADuplicateWithTheDriversError() {
        List<EventData> taken = events(2);
        first.append("account-1", ExpectedVersion.NO_STREAM, taken);
        List<EventData> retried = List.of(events(1).get(0), taken.get(1));

        DuplicateEventIdException duplicate = assertThrows(DuplicateEventIdException.class,
                () -> second.append("account-2", ExpectedVersion.NO_STREAM, retried));

        assertEquals(taken.get(1).eventId(), duplicate.eventId());
        assertEquals("account-2", duplicate.streamId());
        assertInstanceOf(MongoException.class, duplicate.getCause(), "the driver's duplicate-key error is the cause");
        assertEquals(ExpectedVersion.NO_STREAM, first.streamVersion("account-2"));
        assertEquals(2, readAll(first).size());
    }

    @Test
    void anAppendRefusedForATakenIdIsSentTheTakenIdsNotTheCommitHoldingThem() {
        // The taken id was found by fetching the whole commit holding it: 5,000 events here, megabytes of big ones.
        List<EventData> taken = events(5_000);
        first.append("bulk-1", ExpectedVersion.NO_STREAM, taken);
        long commitBytes = bsonSize(database.database().getCollection("flux_events", BsonDocument.class).find().first());
        AtomicLong bytesSent = new AtomicLong();
        try (MongoClient client = clientCountingAnswerBytes(bytesSent)) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));
            bytesSent.set(0);

            DuplicateEventIdException duplicate = assertThrows(DuplicateEventIdException.class,
                    () -> store.append("other-1", ExpectedVersion.NO_STREAM, List.of(events(1).get(0), taken.get(2_500))));
            store.close();

            assertEquals(taken.get(2_500).eventId(), duplicate.eventId());
            assertTrue(commitBytes > 250_000, "the commit holds " + commitBytes + " bytes");
            assertTrue(bytesSent.get() < 8192, "the refused append was sent " + bytesSent.get() + " bytes; the commit"
                    + " holding the taken id has " + commitBytes);
        }
    }

    @Test
    void recordedTimesNeverStepBackAlongTheLogThoughAnAppendWaitedAfterTakingItsTurnInTheQueue() throws Exception {
        // The time was taken when the append was made, before its turn: one that waited (here, for another process's
        // commit) was placed after a later one with its earlier time, and readers sorting or filtering by time saw the
        // log step back.
        first.append("warm-1", ExpectedVersion.NO_STREAM, events(1));
        CountDownLatch queued = new CountDownLatch(1);
        CountDownLatch overtaken = new CountDownLatch(1);
        first.afterQueued = () -> {
            queued.countDown();
            awaitQuietly(overtaken, 20);
        };
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Long> waited = pool.submit(() -> first.append("late-1", ExpectedVersion.NO_STREAM, events(1)));
            assertTrue(queued.await(20, TimeUnit.SECONDS));
            Thread.sleep(50);
            second.append("early-1", ExpectedVersion.NO_STREAM, events(1));
            overtaken.countDown();
            waited.get(20, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }

        List<RecordedEvent> log = readAll(first);
        assertEquals(List.of("warm-1", "early-1", "late-1"), log.stream().map(RecordedEvent::streamId).toList());
        for (int i = 1; i < log.size(); i++) {
            assertTrue(!log.get(i).recordedAt().isBefore(log.get(i - 1).recordedAt()), "position " + log.get(i).position()
                    + " is recorded at " + log.get(i).recordedAt() + ", before position " + log.get(i - 1).position()
                    + " at " + log.get(i - 1).recordedAt());
        }
    }

    @Test
    void anAppendAfterACommitRecordedAheadOfThisClockIsRecordedNoEarlierThanIt() {
        // Another process's clock runs an hour ahead: its commit's time is the earliest the next one can have.
        second.append("ahead-1", ExpectedVersion.NO_STREAM, events(1));
        Instant ahead = Instant.ofEpochMilli(System.currentTimeMillis() + 3_600_000);
        database.database().getCollection("flux_events", BsonDocument.class).updateOne(new BsonDocument("_id", new BsonInt64(1)),
                new BsonDocument("$set", new BsonDocument("recordedAt", new BsonDateTime(ahead.toEpochMilli()))));

        first.append("behind-1", ExpectedVersion.NO_STREAM, events(1));

        assertEquals(ahead, first.readStream("behind-1", 0, 1).get(0).recordedAt());
    }

    @Test
    void aSnapshotTakenAtATimeABsonDateCannotHoldIsRefusedNamingItsStreamAndNothingIsWritten() {
        MongoSnapshotStore snapshots = new MongoSnapshotStore(database.database());
        for (Instant takenAt : List.of(Instant.MAX, Instant.MIN, Instant.ofEpochSecond(Long.MAX_VALUE / 1000 + 1))) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> snapshots.save(
                    new Snapshot("account-1", 3, "Account", "{}".getBytes(StandardCharsets.UTF_8), takenAt)));

            assertTrue(refused.getMessage().contains("takenAt") && refused.getMessage().contains("'account-1'")
                    && refused.getMessage().contains(takenAt.toString()), refused.getMessage());
            assertEquals(Optional.empty(), snapshots.load("account-1"), "nothing is written");
        }
    }

    @Test
    void aSnapshotTakenAtTheEdgesOfWhatABsonDateHoldsComesBackAsTaken() {
        MongoSnapshotStore snapshots = new MongoSnapshotStore(database.database());
        for (Instant takenAt : List.of(Instant.ofEpochMilli(Long.MAX_VALUE).plusNanos(999_999), Instant.ofEpochMilli(Long.MIN_VALUE))) {
            Snapshot saved = new Snapshot("account-1", 3, "Account", "{}".getBytes(StandardCharsets.UTF_8), takenAt);
            snapshots.save(saved);

            assertEquals(takenAt, snapshots.load("account-1").orElseThrow().takenAt());
            snapshots.delete("account-1");
        }
    }

    @Test
    void readStreamFromTheMiddleOfAnAppendStartsAtTheVersionAskedFor() {
        first.append("account-1", ExpectedVersion.NO_STREAM, events(4));
        first.append("account-1", 3, events(4));

        List<RecordedEvent> page = first.readStream("account-1", 5, 2);

        assertEquals(List.of(5L, 6L), page.stream().map(RecordedEvent::version).toList());
    }

    @Test
    void globalPagesStopShortBeforeALargeAppendButNeverSkipIt() {
        first.append("small-1", ExpectedVersion.NO_STREAM, events(1));
        first.append("large-1", ExpectedVersion.NO_STREAM, events(10));
        first.append("small-2", ExpectedVersion.NO_STREAM, events(1));

        List<Integer> pageSizes = new ArrayList<>();
        List<Long> positions = new ArrayList<>();
        long after = 0;
        for (List<RecordedEvent> page = first.readAll(after, 5); !page.isEmpty(); page = first.readAll(after, 5)) {
            pageSizes.add(page.size());
            page.forEach(e -> positions.add(e.position()));
            after = page.get(page.size() - 1).position();
        }

        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L), positions);
        assertEquals(List.of(1, 5, 5, 1), pageSizes, "the first page ends before the large append");
    }

    @Test
    void aReadOfBigEventsStopsAfterAboutFourMebibytesWhateverItsCountAsks() {
        // Six events of 1 MiB, three in one commit: a read of 100 held all 6 MiB, and a subscription's batch of
        // 256 such events would hold 256 MiB.
        byte[] mebibyte = new byte[1 << 20];
        List<EventData> three = List.of(EventData.of("Blob", mebibyte, Map.of()), EventData.of("Blob", mebibyte, Map.of()),
                EventData.of("Blob", mebibyte, Map.of()));
        first.append("blob-1", ExpectedVersion.NO_STREAM, three);
        for (int version = 2; version < 5; version++) {
            first.append("blob-1", version, List.of(EventData.of("Blob", mebibyte, Map.of())));
        }

        List<RecordedEvent> log = first.readAll(0, 100);
        List<RecordedEvent> stream = first.readStream("blob-1", 0, 100);
        List<RecordedEvent> category = first.readCategory("blob", 0, 100);

        assertEquals(List.of(1L, 2L, 3L, 4L), log.stream().map(RecordedEvent::position).toList());
        assertEquals(List.of(0L, 1L, 2L, 3L), stream.stream().map(RecordedEvent::version).toList());
        assertEquals(List.of(1L, 2L, 3L, 4L), category.stream().map(RecordedEvent::position).toList());
        assertEquals(List.of(5L, 6L), first.readAll(4, 100).stream().map(RecordedEvent::position).toList());
        assertEquals(List.of(4L, 5L), first.readStream("blob-1", 4, 100).stream().map(RecordedEvent::version).toList());
        assertEquals(List.of(5L, 6L), first.readCategory("blob", 4, 100).stream().map(RecordedEvent::position).toList());
        assertEquals(1, first.readAll(0, 1).size(), "a page of one still holds one");
    }

    @Test
    void aCommitOfManyEventsReadAPageAtATimeIsNotSentWholeForEveryPage() {
        // One append of 500 events read in pages of 25: each page's read fetched the whole commit, 10,000 events
        // sent for 500 (a subscription catching up over one append of 10,000 took 40 reads of 10,000 each).
        AtomicLong eventsSent = new AtomicLong();
        try (MongoClient client = MongoClients.create(MongoClientSettings.builder(MongoTestServer.settings(server().connectionString()))
                .addCommandListener(new CommandListener() {
                    @Override
                    public void commandSucceeded(CommandSucceededEvent event) {
                        BsonDocument cursor = event.getResponse().getDocument("cursor", new BsonDocument());
                        for (String batch : List.of("firstBatch", "nextBatch")) {
                            for (var commit : cursor.getArray(batch, new BsonArray())) {
                                eventsSent.addAndGet(commit.asDocument().getArray("events", new BsonArray()).size());
                            }
                        }
                    }
                }).build())) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));
            store.append("bulk-1", ExpectedVersion.NO_STREAM, events(500));
            store.append("bulk-2", ExpectedVersion.NO_STREAM, events(1));

            Map<String, Long> sent = new LinkedHashMap<>();
            List<Long> positions = new ArrayList<>();
            eventsSent.set(0);
            for (List<RecordedEvent> page = store.readAll(0, 25); !page.isEmpty();
                 page = store.readAll(positions.get(positions.size() - 1), 25)) {
                page.forEach(e -> positions.add(e.position()));
            }
            sent.put("readAll", eventsSent.getAndSet(0));
            List<Long> versions = new ArrayList<>();
            for (List<RecordedEvent> page = store.readStream("bulk-1", 0, 25); !page.isEmpty();
                 page = store.readStream("bulk-1", versions.size(), 25)) {
                page.forEach(e -> versions.add(e.version()));
            }
            sent.put("readStream", eventsSent.getAndSet(0));
            List<Long> inCategory = new ArrayList<>();
            for (List<RecordedEvent> page = store.readCategory("bulk", 0, 25); !page.isEmpty();
                 page = store.readCategory("bulk", inCategory.get(inCategory.size() - 1), 25)) {
                page.forEach(e -> inCategory.add(e.position()));
            }
            sent.put("readCategory", eventsSent.getAndSet(0));
            store.close();

            assertEquals(LongStream.rangeClosed(1, 501).boxed().toList(), positions);
            assertEquals(LongStream.range(0, 500).boxed().toList(), versions);
            assertEquals(positions, inCategory);
            sent.forEach((read, count) -> assertTrue(count <= 3 * 501, read + " had " + count + " events sent for 501: " + sent));
        }
    }

    @Test
    void readEventFetchesTheOneEventNotTheWholeCommitHoldingIt() {
        // One append of 10,000 events: readEvent (the feed's GET /events/{id}, for any caller) fetched the whole
        // commit for one of its events, about 1 MB here and tens of MB for bigger events.
        AtomicLong bytesSent = new AtomicLong();
        try (MongoClient client = clientCountingAnswerBytes(bytesSent)) {
            MongoEventStore store = new MongoEventStore(client.getDatabase(database.database().getName()));
            List<EventData> commit = events(10_000);
            store.append("bulk-1", ExpectedVersion.NO_STREAM, commit);
            long commitBytes = bsonSize(database.database().getCollection("flux_events", BsonDocument.class).find().first());

            Map<Integer, Long> sent = new LinkedHashMap<>();
            List<Long> versions = new ArrayList<>();
            for (int index : List.of(0, 5_000, 9_999)) {
                bytesSent.set(0);
                versions.add(store.readEvent(commit.get(index).eventId()).orElseThrow().version());
                sent.put(index, bytesSent.get());
            }
            store.close();

            assertEquals(List.of(0L, 5_000L, 9_999L), versions);
            assertTrue(commitBytes > 500_000, "the commit holds " + commitBytes + " bytes");
            sent.forEach((index, bytes) -> assertTrue(bytes < 4096, "readEvent of event " + index + " of the commit was sent "
                    + bytes + " bytes of its " + commitBytes + ": " + sent));
        }
    }

    @Test
    void readEventFindsTheFirstAMiddleAndTheLastEventOfACommitAsAStreamReadHasThem() {
        first.append("other-1", ExpectedVersion.NO_STREAM, events(2));
        first.append("account-1", ExpectedVersion.NO_STREAM, events(3));
        List<EventData> commit = events(7);
        first.append("account-1", 2, commit);
        first.append("account-1", 9, events(1));
        List<RecordedEvent> stream = first.readStream("account-1", 3, 7);

        List<RecordedEvent> found = new ArrayList<>();
        for (int index : List.of(0, 3, 6)) {
            found.add(second.readEvent(commit.get(index).eventId()).orElseThrow());
        }

        assertEquals(List.of(stream.get(0), stream.get(3), stream.get(6)), found);
        assertEquals(List.of(3L, 6L, 9L), found.stream().map(RecordedEvent::version).toList());
        assertEquals(List.of(6L, 9L, 12L), found.stream().map(RecordedEvent::position).toList());
        assertEquals(Optional.empty(), second.readEvent(UUID.randomUUID()), "an id no commit holds");
    }

    @Test
    void readEventAsksWithTheStoresReadConcernAndTheDatabasesReadPreferenceAsTheOtherReadsDo() {
        // The old find ran on the store's view of the collection; the aggregation that replaced it must too: a
        // collection fetched afresh would read at local concern (a commit a failover rolls back) from the primary.
        List<EventData> written = events(2);
        first.append("account-1", ExpectedVersion.NO_STREAM, written);
        List<BsonDocument> aggregates = new CopyOnWriteArrayList<>();
        try (MongoClient client = clientRunningOn("aggregate", command -> aggregates.add(command.clone()))) {
            MongoDatabase secondaries = client.getDatabase(database.database().getName())
                    .withReadPreference(ReadPreference.secondaryPreferred());
            MongoEventStore byDefault = new MongoEventStore(secondaries);
            MongoEventStore local = new MongoEventStore(secondaries, MongoOptions.defaults().withReadConcern(ReadConcern.LOCAL));

            long versions = byDefault.readEvent(written.get(1).eventId()).orElseThrow().version()
                    + local.readEvent(written.get(0).eventId()).orElseThrow().version();
            byDefault.close();
            local.close();

            assertEquals(1, versions);
            assertEquals(List.of("majority", "local"), aggregates.stream().map(aggregate -> aggregate.getDocument("readConcern",
                    new BsonDocument()).getString("level", new BsonString("none")).getValue()).toList(), aggregates.toString());
            assertEquals(List.of("secondaryPreferred", "secondaryPreferred"), readPreferencesOf(aggregates));
        }
    }

    @Test
    void readEventOnAClosedStoreFailsNamingTheStore() {
        List<EventData> written = events(3);
        first.append("account-1", ExpectedVersion.NO_STREAM, written);
        first.close();

        IllegalStateException closed = assertThrows(IllegalStateException.class,
                () -> first.readEvent(written.get(1).eventId()));

        assertTrue(closed.getMessage().contains(database.database().getName() + ".flux_events is closed"), closed.getMessage());
        assertEquals(1, second.readEvent(written.get(1).eventId()).orElseThrow().version(), "another store still reads it");
    }

    @Test
    void aDocumentWhoseEventsAreNotAnArrayIsNamedByAReadOfAnEventIdItHolds() {
        UUID eventId = UUID.randomUUID();
        database.database().getCollection("flux_events", BsonDocument.class).insertOne(new BsonDocument("_id", new BsonInt64(1))
                .append("firstPosition", new BsonInt64(1)).append("stream", new BsonString("account-1"))
                .append("category", new BsonString("account")).append("firstVersion", new BsonInt64(0))
                .append("lastVersion", new BsonInt64(0)).append("recordedAt", new BsonDateTime(0))
                .append("events", new BsonDocument("id", new BsonBinary(eventId))));

        Map<String, Executable> calls = Map.of("a read of an event id", () -> first.readEvent(eventId));

        assertEquals(Map.of(), failuresNotNamingDocument("{\"_id\": 1}", "", calls));
    }

    /** The size of {@code document} as BSON. */
    private static long bsonSize(BsonDocument document) {
        return new RawBsonDocument(document, new BsonDocumentCodec()).getByteBuffer().remaining();
    }

    @Test
    void anAppendTooLargeForOneDocumentIsRefusedWholeNamingTheStream() {
        byte[] nineMegabytes = new byte[9 * 1024 * 1024];
        List<EventData> tooLarge = List.of(EventData.of("Big", nineMegabytes, Map.of()), EventData.of("Big", nineMegabytes, Map.of()));

        FluxException refused = assertThrows(FluxException.class,
                () -> first.append("blob-1", ExpectedVersion.NO_STREAM, tooLarge));

        assertTrue(refused.getMessage().contains("blob-1") && refused.getMessage().contains("16 MB"), refused.getMessage());
        assertEquals(ExpectedVersion.NO_STREAM, first.streamVersion("blob-1"));
        assertEquals(0, first.append("blob-1", ExpectedVersion.NO_STREAM, events(1)), "the store goes on");
    }

    @Test
    void aDocumentWithoutANumericPositionIdIsNamedByTheEndOfTheLogAndByAppendsThatReadIt() {
        first.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        database.database().getCollection("flux_events", BsonDocument.class).insertOne(
                new BsonDocument("_id", new BsonObjectId(new ObjectId("65f000000000000000000001"))).append("note", new BsonString("by hand")));

        Map<String, Executable> calls = new LinkedHashMap<>();
        calls.put("the end of the log", first::lastPosition);
        calls.put("an append reading it", () -> second.append("account-2", ExpectedVersion.NO_STREAM, events(1)));

        assertEquals(Map.of(), failuresNotNamingDocument("{\"_id\": {\"$oid\": \"65f000000000000000000001\"}}",
                "'_id' is a OBJECT_ID", calls));
        assertEquals(1, readAll(first).size(), "the global log is still read");
        assertEquals(ExpectedVersion.NO_STREAM, first.streamVersion("account-2"), "the append wrote nothing");
    }

    @Test
    void aDamagedCommitIsNamedByEveryReadAndAppendThatMeetsIt() {
        first.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        UUID eventId = UUID.randomUUID();
        database.database().getCollection("flux_events", BsonDocument.class).insertOne(new BsonDocument("_id", new BsonInt64(2))
                .append("stream", new BsonString("account-2")).append("category", new BsonString("account"))
                .append("firstVersion", new BsonInt32(0)).append("lastVersion", new BsonString("0"))
                .append("events", new BsonArray(List.of(new BsonDocument("id", new BsonBinary(eventId))))));

        Map<String, Executable> calls = new LinkedHashMap<>();
        calls.put("the end of the stream", () -> first.streamVersion("account-2"));
        calls.put("an append at a version", () -> second.append("account-2", 0, events(1)));
        calls.put("an ANY append", () -> second.append("account-2", ExpectedVersion.ANY, events(1)));
        calls.put("a stream read from its start", () -> first.readStream("account-2", 0, 10));
        calls.put("a stream read from a version", () -> first.readStream("account-2", 1, 10));
        calls.put("the global log", () -> first.readAll(0, 10));
        calls.put("a category", () -> first.readCategory("account", 0, 10));
        calls.put("a read of an event id", () -> first.readEvent(eventId));

        assertEquals(Map.of(), failuresNotNamingDocument("{\"_id\": 2}", "", calls));
        assertEquals(1, first.readAll(0, 1).size(), "what comes before it is still read");
    }

    /**
     * The calls that did not throw a FluxException whose message names {@code document}, the events
     * collection and {@code what}, with what they did.
     */
    private Map<String, String> failuresNotNamingDocument(String document, String what, Map<String, Executable> calls) {
        String where = database.database().getName() + ".flux_events";
        Map<String, String> wrong = new LinkedHashMap<>();
        calls.forEach((name, call) -> {
            try {
                call.execute();
                wrong.put(name, "answered");
            } catch (FluxException e) {
                if (!e.getMessage().contains("Unreadable commit document " + document + " in " + where)
                        || !e.getMessage().contains(what)) {
                    wrong.put(name, e.toString());
                }
            } catch (Throwable e) {
                wrong.put(name, e.toString());
            }
        });
        return wrong;
    }

    @Test
    void theCollectionsTheOptionsNameAreTheOnesWritten() {
        MongoOptions options = MongoOptions.defaults().withEventsCollection("orders_events")
                .withOffsetsCollection("orders_offsets").withSnapshotsCollection("orders_snapshots");
        try (MongoEventStore events = new MongoEventStore(database.database(), options)) {
            MongoOffsetStore offsets = new MongoOffsetStore(database.database(), options);
            MongoSnapshotStore snapshots = new MongoSnapshotStore(database.database(), options);

            events.append("order-1", ExpectedVersion.NO_STREAM, events(2));
            offsets.save("shipping", 2);
            snapshots.save(new Snapshot("order-1", 1, "Order", "{}".getBytes(StandardCharsets.UTF_8), Instant.now()));

            assertEquals(1, count("orders_events"));
            assertEquals(1, count("orders_offsets"));
            assertEquals(1, count("orders_snapshots"));
            assertEquals(0, count("flux_events") + count("flux_offsets") + count("flux_snapshots"),
                    "nothing went to the default collections");
            assertEquals(List.of(), readAll(first), "a store on the default collections sees none of it");
            assertEquals(2, readAll(events).size());
            assertEquals(2, offsets.load("shipping"));
            assertEquals(1, snapshots.load("order-1").orElseThrow().version());
        }
    }

    private long count(String collection) {
        return database.database().getCollection(collection).countDocuments();
    }

    @Test
    void connectUsesTheConnectionStringsDatabaseAndClosesItsClient() {
        String withDatabase = connectionStringOf(database);
        first.append("account-1", ExpectedVersion.NO_STREAM, events(1));

        MongoEventStore connected = MongoEventStore.connect(withDatabase);
        List<RecordedEvent> all = readAll(connected);
        connected.close();

        assertEquals(readAll(first), all);
        assertThrows(IllegalStateException.class, () -> connected.readAll(0, 1));
        assertThrows(IllegalArgumentException.class, () -> MongoEventStore.connect("not a connection string"));
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aServerThatDoesNotAnswerAtStartIsAFluxExceptionNamingTheCollection() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        try (MongoClient client = MongoClients.create(MongoTestServer.settings(
                "mongodb://127.0.0.1:" + port + "/?serverSelectionTimeoutMS=500"))) {

            FluxException failure = assertThrows(FluxException.class,
                    () -> new MongoEventStore(client.getDatabase("nowhere")));

            assertTrue(failure.getMessage().contains("nowhere.flux_events"), failure.getMessage());
            assertInstanceOf(MongoTimeoutException.class, failure.getCause());
        }
    }

    /** The test server's connection string, naming the test's database. */
    private String connectionStringOf(TestDatabase database) {
        return server().connectionString().replaceFirst("^(mongodb(\\+srv)?://[^/?]+)(/[^?]*)?", "$1/" + database.database().getName());
    }

    private static List<RecordedEvent> readAll(MongoEventStore store) {
        List<RecordedEvent> all = new ArrayList<>();
        for (List<RecordedEvent> page = store.readAll(0, 100); !page.isEmpty();
             page = store.readAll(all.get(all.size() - 1).position(), 100)) {
            all.addAll(page);
        }
        return all;
    }

    private static List<EventData> events(int count) {
        List<EventData> events = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            events.add(EventData.of("Written", ("{\"i\":" + i + "}").getBytes(StandardCharsets.UTF_8), Map.of("k", "v")));
        }
        return events;
    }
}
