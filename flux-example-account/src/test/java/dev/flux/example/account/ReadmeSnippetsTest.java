package dev.flux.example.account;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import dev.flux.Aggregate;
import dev.flux.EventStore;
import dev.flux.Metadata;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
import dev.flux.bus.Bus;
import dev.flux.bus.Query;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.memory.InMemoryEventStore;
import dev.flux.memory.InMemorySnapshotStore;
import dev.flux.mongo.MongoEventStore;
import dev.flux.mongo.MongoOffsetStore;
import dev.flux.mongo.MongoSnapshotStore;
import dev.flux.projection.Projector;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.serialization.SchemaVersion;
import dev.flux.serialization.Upcasted;
import dev.flux.snapshot.SnapshotPolicy;
import dev.flux.snapshot.SnapshotStore;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.OffsetStore;
import dev.flux.subscription.Subscription;
import dev.flux.xodus.XodusEventStore;
import dev.flux.xodus.XodusOffsetStore;
import dev.flux.xodus.XodusSnapshotStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's snippets that configure things, each as the README writes it (between the {@code README:}
 * comments), so that a change of the API they use fails this class's compilation, and a change of the
 * README's text that this class does not follow fails {@link #everySnippetMarkedReadmeIsWrittenSoInTheReadme}.
 * The
 * {@link QuickstartTest}-style types they name are declared here; {@code ...} in the README is filled in
 * with the least that compiles. Snippets that bind fixed ports or write to {@code ./data} are only
 * compiled; the others run.
 */
class ReadmeSnippetsTest {

    @SchemaVersion(2)
    record AccountCredited(long amount) {}

    @SchemaVersion(2)
    record AccountDebited(String accountId, long amount) {}

    record OpenAccount(String id) {}

    record GetBalance(String id) implements Query<Long> {}

    public static class Account extends Aggregate {
        private long balance;

        public void credit(long amount) {
            update(new AccountCredited(amount));
        }

        public long balance() { return balance; }

        private void handleAccountCredited(AccountCredited e) { balance += e.amount(); }

        private void handleAccountDebited(AccountDebited e) { balance -= e.amount(); }
    }

    record FeeCharged(long amount) {}

    /** What the README's bus snippet charges a fee on when an account is credited. */
    public static class Fees extends Aggregate {
        private void handleFeeCharged(FeeCharged e) { }
    }

    /** What the README's subscription snippet adds balances to. */
    static final class ReadModel {
        final Map<String, Long> balances = new ConcurrentHashMap<>();

        void add(String account, long amount) { balances.merge(account, amount, Long::sum); }
    }

    /**
     * Each {@code // README:} block of this file stands in the README as written, line for line (indentation
     * aside), where a README line with {@code ...} takes whatever this file fills in there. Blocks marked
     * {@code // README (but for ...)} change a detail on purpose and are not compared.
     */
    @Test
    void everySnippetMarkedReadmeIsWrittenSoInTheReadme() throws Exception {
        List<String> readme = nonBlankLines(Files.readString(Path.of("..", "README.md")));
        List<String> source = Files.readAllLines(Path.of("src", "test", "java", "dev", "flux", "example", "account",
                "ReadmeSnippetsTest.java"));
        int compared = 0;
        for (int i = 0; i < source.size(); i++) {
            if (!source.get(i).strip().equals("// README:")) {
                continue;
            }
            List<String> snippet = new ArrayList<>();
            for (i++; !source.get(i).strip().equals("// :README"); i++) {
                snippet.add(source.get(i));
            }
            List<String> lines = nonBlankLines(String.join("\n", snippet));
            int line = i - snippet.size();
            assertTrue(IntStream.rangeClosed(0, readme.size() - lines.size()).anyMatch(at -> IntStream.range(0, lines.size())
                    .allMatch(k -> writtenAs(readme.get(at + k), lines.get(k)))),
                    "the snippet at ReadmeSnippetsTest.java:" + line + " is not in README.md as written there: change"
                            + " one or the other\n" + String.join("\n", lines));
            compared++;
        }
        assertTrue(compared >= 5, "snippets compared: " + compared);
    }

    private static List<String> nonBlankLines(String text) {
        return text.lines().map(String::strip).filter(line -> !line.isEmpty()).toList();
    }

    /** Whether the README's {@code written} line is {@code line}, its {@code ...} standing for anything. */
    private static boolean writtenAs(String written, String line) {
        if (!written.contains("...")) {
            return written.equals(line);
        }
        String[] parts = written.split("\\.\\.\\.", -1);
        StringBuilder pattern = new StringBuilder();
        for (int k = 0; k < parts.length; k++) {
            pattern.append(k == 0 ? "" : ".*").append(Pattern.quote(parts[k]));
        }
        return Pattern.matches(pattern.toString(), line);
    }

    /** "Xodus: the embedded default": compiled only, as it writes to {@code ./data}. */
    @SuppressWarnings("unused")
    private static void xodusSnippet() {
        // README:
        try (XodusEventStore events = new XodusEventStore(Path.of("data/events"));
             XodusOffsetStore offsets = new XodusOffsetStore(Path.of("data/offsets"));
             XodusSnapshotStore snapshots = new XodusSnapshotStore(Path.of("data/snapshots"))) {
            Repository<Account> accounts = Repository.builder(Account.class, events)
                    .snapshots(snapshots, SnapshotPolicy.everyEvents(500)).build();
            accounts.update("42", a -> a.credit(100));   // on disk when it returns
        }
        // :README
    }

    @Test
    void theMongoSnippetsStoresOpenOnADatabase() {
        MongoServer server = new MongoServer(new MemoryBackend());
        InetSocketAddress address = server.bind();
        try (MongoClient client = MongoClients.create("mongodb://127.0.0.1:" + address.getPort())) {
            // README:
            MongoDatabase db = client.getDatabase("orders");
            EventStore events = new MongoEventStore(db);
            OffsetStore offsets = new MongoOffsetStore(db);
            SnapshotStore snapshots = new MongoSnapshotStore(db);
            // :README
            try (events) {
                assertTrue(offsets.find("balances").isEmpty(), "no offset stored yet");
                assertTrue(snapshots.load("Account-42").isEmpty());
                assertEquals(0, events.lastPosition());
            }
        } finally {
            server.shutdownNow();
        }
    }

    /** The first half of the Mongo snippet: compiled only, as it connects to three named hosts. */
    @SuppressWarnings("unused")
    private static void mongoConnectSnippet() {
        // README:
        try (MongoEventStore events = MongoEventStore.connect(
                "mongodb://db1:27017,db2:27017,db3:27017/orders?replicaSet=rs0&serverSelectionTimeoutMS=5000")) {
            events.lastPosition();   // the README's "..."
        }
        // :README
    }

    @Test
    void theSubscriptionAndProjectionSnippetsRun(@TempDir Path dir) throws Exception {
        ReadModel readModel = new ReadModel();
        try (EventStore store = new InMemoryEventStore()) {
            Repository<Account> repository = Repository.of(Account.class, store);
            repository.update("42", a -> a.credit(5));
            try (XodusOffsetStore xodusOffsets = new XodusOffsetStore(dir.resolve("offsets"))) {
                OffsetStore offsets = xodusOffsets;
                // README (but for the offset store's directory):
                Subscription balances = Subscription.builder(EventSource.category(store, "Account"))
                        .name("balances", offsets)              // durable: resumes after its stored offset
                        .onRecorded(AccountCredited.class, (e, recorded) -> readModel.add(recorded.streamId(), e.amount()))
                        .on(AccountDebited.class, e -> readModel.add(e.accountId(), -e.amount()))
                        .start();
                // :README
                assertTrue(balances.awaitPosition(store.lastPosition(), Duration.ofSeconds(30)), "caught up");
                balances.stop();
            }
            assertEquals(Map.of("Account-42", 5L), readModel.balances);

            // README:
            Projector<Long> balance = Projector.from(0L)
                    .on(AccountCredited.class, (total, e) -> total + e.amount())
                    .on(AccountDebited.class, (total, e) -> total - e.amount());
            long one = balance.projectStream(store, "Account-42");
            long all = balance.projectCategory(store, "Account");
            // :README
            assertEquals(5, one);
            assertEquals(5, all);
        }
    }

    @Test
    void theBusSnippetRuns() {
        Map<String, Long> balances = Map.of("42", 7L);
        java.util.List<Object> notified = new java.util.ArrayList<>();
        // README (the command handler's "accounts.update(...)" records the command instead):
        Bus bus = new Bus();
        bus.subscribe(AccountCredited.class, e -> notified.add(e));  // events: every listener, in order
        bus.register(OpenAccount.class, cmd -> notified.add(cmd));    // commands: exactly one handler
        bus.registerQuery(GetBalance.class, q -> balances.get(q.id()));
        bus.publish(new AccountCredited(5));
        bus.dispatch(new OpenAccount("42"));                           // HandlerNotFoundException if none
        long b = bus.ask(new GetBalance("42"));                        // record GetBalance(String id) implements Query<Long>
        // :README
        assertEquals(7, b);
        assertEquals(java.util.List.of(new AccountCredited(5), new OpenAccount("42")), notified);
    }

    @Test
    void theBusContextSnippetChargesTheCreditedAccountAndCarriesTheConversationOn() {
        try (EventStore store = new InMemoryEventStore()) {
            Bus bus = new Bus();
            Repository<Fees> fees = Repository.of(Fees.class, store);
            // README:
            Repository<Account> accounts = Repository.builder(Account.class, store).publishTo(bus).build();
            bus.subscribeWithContext(AccountCredited.class, (e, context) -> {   // the saved event's id, metadata, stream, version
                String correlation = context.metadata().getOrDefault(Metadata.CORRELATION_ID, context.eventId().toString());
                fees.update(context.aggregateId(), f -> f.update(new FeeCharged(1), Metadata.causedBy(UUID.fromString(correlation), context.eventId())));
            });
            // :README
            UUID request = UUID.randomUUID();
            accounts.update("42", a -> a.update(new AccountCredited(5), Map.of(Metadata.CORRELATION_ID, request.toString())));
            accounts.update("7", a -> a.credit(7));

            RecordedEvent credited = store.readStream("Account-42", 0, 1).get(0);
            RecordedEvent uncorrelated = store.readStream("Account-7", 0, 1).get(0);
            List<Map<String, String>> charged42 = store.readStream("Fees-42", 0, 10).stream().map(RecordedEvent::metadata).toList();
            List<Map<String, String>> charged7 = store.readStream("Fees-7", 0, 10).stream().map(RecordedEvent::metadata).toList();
            assertEquals(List.of(Metadata.causedBy(request, credited.eventId())), charged42);
            assertEquals(List.of(Metadata.causedBy(uncorrelated.eventId(), uncorrelated.eventId())), charged7);
        }
    }

    /** "The HTTP feed" and its consumer: compiled only, as they bind and name port 8080. */
    @SuppressWarnings("unused")
    private static void feedSnippets(EventStore store, OffsetStore offsets) {
        // README:
        try (FeedServer feed = FeedServer.builder(store).port(8080).start()) {   // 127.0.0.1 unless .host(...)
            System.out.println(feed.uri());                                        // http://127.0.0.1:8080/events
        }
        // :README
        // README:
        Subscription.builder(HttpEventSource.of(URI.create("http://accounts:8080/events")))
                .name("balances", offsets)            // on an offset store replicas share, a claim of 45 s by default: 3 x (5 s wait + 10 s)
                .onRecorded(AccountCredited.class, (e, recorded) -> { })
                .start();
        // :README
    }

    @Test
    void theSnapshotAndUpcastingSnippetsBuildRepositories() {
        try (EventStore store = new InMemoryEventStore()) {
            // README (InMemorySnapshotStore for the XodusSnapshotStore):
            Repository<Account> accounts = Repository.builder(Account.class, store)
                    .snapshots(new InMemorySnapshotStore(), SnapshotPolicy.everyEvents(500))   // or InMemorySnapshotStore
                    .build();
            // :README
            accounts.update("1", a -> a.credit(3));
            assertEquals(3, accounts.load("1").balance());
        }
        try (EventStore store = new InMemoryEventStore()) {
            // README:
            EventTypes types = new EventTypes()
                    .upcaster("AccountCredited", 1, json -> {
                        json.set("amount", json.remove("value"));
                        return json;
                    })
                    // MoneyMoved {"value": signed} was split into AccountCredited and AccountDebited (both at version 2).
                    .renamingUpcaster("MoneyMoved", 1, json -> {
                        long value = json.get("value").asLong();
                        ObjectNode body = JsonNodeFactory.instance.objectNode().put("amount", Math.abs(value));
                        return new Upcasted(value < 0 ? "AccountDebited" : "AccountCredited", body);
                    });
            Repository<Account> accounts = Repository.builder(Account.class, store)
                    .serializer(new JacksonEventSerializer(types)).build();
            // :README
            store.append("Account-7", -1, java.util.List.of(dev.flux.EventData.of("AccountCredited",
                    "{\"value\":4}".getBytes(java.nio.charset.StandardCharsets.UTF_8), Map.of())));
            assertEquals(4, accounts.load("7").balance(), "version 1's value read as version 2's amount");
        }
    }
}
