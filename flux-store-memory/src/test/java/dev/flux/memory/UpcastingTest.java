package dev.flux.memory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flux.Aggregate;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.Metadata;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.projection.Projector;
import dev.flux.serialization.EventDecodingException;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.serialization.SchemaVersion;
import dev.flux.serialization.Upcasted;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An event class that changed shape twice, a type that was renamed and one that was split, all read
 * back through the aggregate, a projector, a subscription and the feed.
 */
@Timeout(60)
class UpcastingTest {
    /** Version 1 was {"value": n}; version 2 added "currency"; version 3 renamed "value" to "amount". */
    @SchemaVersion(3)
    record AccountCredited(long amount, String currency) { }

    /** Appeared at version 2, split out of MoneyMoved. */
    @SchemaVersion(2)
    record AccountDebited(long amount) { }

    public static class Account extends Aggregate {
        long balance;
        String currency;

        void credit(long amount) {
            update(new AccountCredited(amount, "EUR"));
        }

        private void handleAccountCredited(AccountCredited e) {
            balance += e.amount();
            currency = e.currency();
        }

        private void handleAccountDebited(AccountDebited e) {
            balance -= e.amount();
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final EventTypes types = new EventTypes()
            .upcaster("AccountCredited", 1, json -> json.put("currency", "EUR"))
            .upcaster("AccountCredited", 2, json -> {
                json.set("amount", json.remove("value"));
                return json;
            })
            // FundsAdded was the old name of AccountCredited, at its version 1 shape.
            .renamingUpcaster("FundsAdded", 1, json -> new Upcasted("AccountCredited", json.put("currency", "USD")))
            // MoneyMoved (signed "value") was split into AccountCredited and AccountDebited.
            .renamingUpcaster("MoneyMoved", 1, json -> {
                long value = json.get("value").asLong();
                if (value < 0) {
                    ObjectNode debit = JSON.createObjectNode().put("amount", -value);
                    return new Upcasted("AccountDebited", debit);
                }
                return new Upcasted("AccountCredited", json.put("currency", "EUR"));
            });
    private final JacksonEventSerializer serializer = new JacksonEventSerializer(types);
    private final Repository<Account> accounts = Repository.builder(Account.class, store).serializer(serializer).build();

    @AfterEach
    void close() {
        store.close();
    }

    private void appendRaw(String type, String json, Integer schemaVersion) {
        Map<String, String> metadata = schemaVersion == null ? Map.of() : Map.of(Metadata.SCHEMA_VERSION, schemaVersion.toString());
        store.append("Account-1", ExpectedVersion.ANY,
                List.of(EventData.of(type, json.getBytes(StandardCharsets.UTF_8), metadata)));
    }

    /** The history of Account-1 as years of deployments left it. */
    private void oldHistory() {
        appendRaw("AccountCredited", "{\"value\": 100}", null);                       // v1, no metadata
        appendRaw("AccountCredited", "{\"value\": 20, \"currency\": \"EUR\"}", 2);    // v2
        appendRaw("FundsAdded", "{\"value\": 5}", null);                              // old name
        appendRaw("MoneyMoved", "{\"value\": -30}", null);                            // split: a debit
        appendRaw("MoneyMoved", "{\"value\": 7}", null);                              // split: a credit
        appendRaw("AccountCredited", "{\"amount\": 1, \"currency\": \"EUR\"}", 3);    // current
    }

    @Test
    void anAggregateLoadsThroughTheWholeChain() {
        oldHistory();

        Account account = accounts.load("1");

        assertEquals(100 + 20 + 5 - 30 + 7 + 1, account.balance);
        assertEquals(5, account.version());
        assertEquals("EUR", account.currency);
    }

    @Test
    void newEventsAreWrittenAtTheCurrentVersionAndReadBackWithoutUpcasting() {
        oldHistory();
        accounts.update("1", a -> a.credit(9));

        RecordedEvent written = store.readStream("Account-1", 6, 1).get(0);

        assertEquals("3", written.metadata().get(Metadata.SCHEMA_VERSION));
        assertEquals(new AccountCredited(9, "EUR"), serializer.deserialize(written));
        assertEquals(112, accounts.load("1").balance);
    }

    @Test
    void aProjectorSeesTheUpcastEventsIncludingRenamedAndSplitOnes() {
        oldHistory();
        Projector<Long> balance = Projector.from(0L, serializer)
                .on(AccountCredited.class, (total, e) -> total + e.amount())
                .on(AccountDebited.class, (total, e) -> total - e.amount());

        assertEquals(103L, balance.projectStream(store, "Account-1"));
        assertEquals(103L, balance.projectCategory(store, "Account"));
    }

    @Test
    void aSubscriptionGetsEveryEventAtItsCurrentShape() throws Exception {
        oldHistory();
        List<Object> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(EventSource.all(store)).serializer(serializer)
                .on(AccountCredited.class, seen::add)
                .on(AccountDebited.class, seen::add)
                .start();
        try {
            assertTrue(subscription.awaitPosition(store.lastPosition(), Duration.ofSeconds(10)), String.valueOf(subscription.lastError()));
        } finally {
            subscription.stop();
        }

        assertEquals(List.of(new AccountCredited(100, "EUR"), new AccountCredited(20, "EUR"), new AccountCredited(5, "USD"),
                new AccountDebited(30), new AccountCredited(7, "EUR"), new AccountCredited(1, "EUR")), seen);
    }

    @Test
    void theFeedCanServeEventsAtTheirCurrentShape() throws Exception {
        appendRaw("FundsAdded", "{\"value\": 5}", null);
        RecordedEvent stored = store.readAll(0, 1).get(0);
        try (FeedServer feed = FeedServer.builder(store).upcastWith(serializer).start()) {
            HttpResponse<String> response = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(feed.uri() + "/" + stored.eventId())).build(),
                    HttpResponse.BodyHandlers.ofString());
            JsonNode event = JSON.readTree(response.body());

            assertEquals("AccountCredited", event.get("event_type").asText());
            assertEquals(5, event.get("data").get("amount").asLong());
            assertEquals("USD", event.get("data").get("currency").asText());
            assertEquals("3", event.get("metadata").get(Metadata.SCHEMA_VERSION).asText());
        }
    }

    /** AccountCredited as the next release writes it, version 4: a memo added. */
    @SchemaVersion(4)
    record AccountCreditedV4(long amount, String currency, String memo) { }

    @Test
    void aFeedOfAnOlderReleasePassesOnAnEventNewerThanItsCodeAsStoredForConsumersThatKnowIt() throws Exception {
        appendRaw("AccountCredited", "{\"value\": 100}", null);
        appendRaw("AccountCredited", "{\"amount\": 1, \"currency\": \"EUR\", \"memo\": \"from v4\"}", 4);
        RecordedEvent newer = store.readAll(0, 2).get(1);
        try (FeedServer feed = FeedServer.builder(store).upcastWith(serializer).start()) {
            HttpClient client = HttpClient.newHttpClient();
            HttpResponse<String> page = client.send(HttpRequest.newBuilder(URI.create(feed.uri() + "?include=data")).build(),
                    HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> one = client.send(HttpRequest.newBuilder(URI.create(feed.uri() + "/" + newer.eventId())).build(),
                    HttpResponse.BodyHandlers.ofString());

            assertEquals(200, page.statusCode(), page.body());
            assertEquals(200, one.statusCode(), one.body());
            JsonNode events = JSON.readTree(page.body()).get("events");
            assertEquals("3", events.get(0).get("metadata").get(Metadata.SCHEMA_VERSION).asText(), "the old one upcast");
            assertEquals(100, events.get(0).get("data").get("amount").asLong());
            for (JsonNode served : List.of(events.get(1), JSON.readTree(one.body()))) {
                assertEquals("AccountCredited", served.get("event_type").asText());
                assertEquals("4", served.get("metadata").get(Metadata.SCHEMA_VERSION).asText(), "as stored");
                assertEquals("from v4", served.get("data").get("memo").asText());
            }

            JacksonEventSerializer nextRelease = new JacksonEventSerializer(new EventTypes()
                    .register("AccountCredited", AccountCreditedV4.class, 4)
                    .upcaster("AccountCredited", 3, json -> json.put("memo", "")));
            List<AccountCreditedV4> read = new CopyOnWriteArrayList<>();
            try (Subscription consumer = Subscription.builder(HttpEventSource.of(feed.uri())).serializer(nextRelease)
                    .on(AccountCreditedV4.class, read::add).start()) {
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (read.size() < 2 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
            }
            assertEquals(List.of(new AccountCreditedV4(100, "EUR", ""), new AccountCreditedV4(1, "EUR", "from v4")), read,
                    "a consumer of the next release reads both");
        }
    }

    @Test
    void anEventAnUpcasterCannotReadIsStillA500OnTheFeed() throws Exception {
        appendRaw("MoneyMoved", "{\"amount\": 5}", null);        // no "value": the splitting upcaster throws
        RecordedEvent broken = store.readAll(0, 1).get(0);
        try (FeedServer feed = FeedServer.builder(store).upcastWith(serializer).start()) {
            HttpResponse<String> one = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(feed.uri() + "/" + broken.eventId())).build(),
                    HttpResponse.BodyHandlers.ofString());

            assertEquals(500, one.statusCode());
            JsonNode problem = JSON.readTree(one.body());
            assertEquals("corrupt_event", problem.get("error").asText(), one.body());
            assertTrue(problem.get("message").asText().contains(broken.eventId().toString()), one.body());
        }
    }

    @Test
    void anEventNewerThanTheCodeKnowsFailsClearlyOnEveryReadPath() throws Exception {
        appendRaw("AccountCredited", "{\"amount\": 1, \"currency\": \"EUR\", \"memo\": \"from v4\"}", 4);

        EventDecodingException onLoad = assertThrows(EventDecodingException.class, () -> accounts.load("1"));
        assertTrue(onLoad.getMessage().contains("Account-1@0") && onLoad.getMessage().contains("AccountCredited")
                && onLoad.getMessage().contains("newer than this code knows"), onLoad.getMessage());

        Projector<Long> balance = Projector.from(0L, serializer).on(AccountCredited.class, (t, e) -> t + e.amount());
        assertThrows(EventDecodingException.class, () -> balance.projectStream(store, "Account-1"));

        Subscription subscription = Subscription.builder(EventSource.all(store)).serializer(serializer).maxRetries(0)
                .on(AccountCredited.class, e -> { }).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (subscription.state() != Subscription.State.FAILED && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(Subscription.State.FAILED, subscription.state());
        assertInstanceOf(EventDecodingException.class, subscription.failure().getCause());
    }

    @Test
    void aGapInTheChainAndABadVersionAreNamed() {
        EventTypes gappy = new EventTypes().upcaster("AccountCredited", 1, json -> json.put("currency", "EUR"));
        gappy.register(AccountCredited.class);
        JacksonEventSerializer gappySerializer = new JacksonEventSerializer(gappy);
        appendRaw("AccountCredited", "{\"value\": 100}", null);
        appendRaw("AccountCredited", "{\"value\": 1}", null);

        RecordedEvent first = store.readAll(0, 1).get(0);
        EventDecodingException gap = assertThrows(EventDecodingException.class, () -> gappySerializer.deserialize(first));
        assertTrue(gap.getMessage().contains("no upcaster from version 2"), gap.getMessage());

        RecordedEvent badVersion = RecordedEvent.of("Account-1", 9, 99, EventData.of("AccountCredited",
                "{}".getBytes(StandardCharsets.UTF_8), Map.of(Metadata.SCHEMA_VERSION, "two")), first.recordedAt());
        EventDecodingException bad = assertThrows(EventDecodingException.class, () -> serializer.deserialize(badVersion));
        assertTrue(bad.getMessage().contains("'two'"), bad.getMessage());
    }

    /** Gained "memo" with an upcaster from 1, but its @SchemaVersion was not raised to 2 with it. */
    record AccountNoted(String memo) { }

    public static class Noted extends Aggregate {
        String memo;

        void note(String memo) {
            update(new AccountNoted(memo));
        }

        private void handleAccountNoted(AccountNoted e) {
            memo = e.memo();
        }
    }

    @Test
    void aSaveWhoseEventAnUpcasterFromItsOwnVersionWouldMisreadStoresNothing() {
        EventTypes forgotten = new EventTypes().upcaster("AccountNoted", 1, json -> json.put("memo", "none"));
        Repository<Noted> notes = Repository.builder(Noted.class, store).serializer(new JacksonEventSerializer(forgotten)).build();
        Noted noted = notes.load("1");
        noted.note("paid in cash");

        FluxException refused = assertThrows(FluxException.class, noted::save);

        assertTrue(refused.getMessage().contains("raise its @SchemaVersion to 2"), refused.getMessage());
        assertEquals(-1, store.streamVersion("Noted-1"));
    }

    @Test
    void registrationsThatWouldBeAmbiguousAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> types.upcaster("AccountCredited", 1, json -> json));
        assertThrows(IllegalArgumentException.class, () -> types.upcaster("AccountCredited", 0, json -> json));
        assertThrows(IllegalArgumentException.class, () -> types.upcaster(" ", 1, json -> json));
        assertThrows(IllegalArgumentException.class, () -> new EventTypes().register("X", AccountDebited.class, 0));
        EventTypes once = new EventTypes().register("AccountDebited", AccountDebited.class, 2);
        assertThrows(IllegalArgumentException.class, () -> once.register("AccountDebited", AccountDebited.class, 3));
        assertEquals(2, once.schemaVersionOf(AccountDebited.class));
    }
}
