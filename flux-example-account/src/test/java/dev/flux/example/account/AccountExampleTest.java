package dev.flux.example.account;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flux.memory.InMemoryEventStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(120)
class AccountExampleTest {
    private final InMemoryEventStore store = new InMemoryEventStore();
    private final HttpClient http = HttpClient.newHttpClient();
    private CommandSide commands;
    private ReadSide reads;

    @AfterEach
    void close() {
        if (reads != null) {
            reads.close();
        }
        if (commands != null) {
            commands.close();
        }
        store.close();
    }

    private void start(Path modelFile) throws Exception {
        commands = new CommandSide(store, "127.0.0.1", 0);
        reads = new ReadSide(commands.feedUri(), modelFile, "127.0.0.1", 0);
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(commands.uri() + path)).POST(HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(URI uri) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> response) throws Exception {
        return Http.JSON.readTree(response.body());
    }

    @Test
    void theDemoMovesMoneyConcurrentlyAndBothSidesAgree() throws Exception {
        start(null);
        ByteArrayOutputStream printed = new ByteArrayOutputStream();

        boolean match = new Demo(store, commands, reads, new PrintStream(printed, true, StandardCharsets.UTF_8)).run(6, 8, 60);

        String output = printed.toString(StandardCharsets.UTF_8);
        assertTrue(match, output);
        assertTrue(output.contains("conflict, as expected: "), output);
        assertTrue(output.contains("totals match"), output);
        JsonNode balances = json(get(reads.uri()));
        assertEquals(reads.total(), balances.get("total").asLong());
        assertEquals(6, balances.get("accounts").size());
    }

    @Test
    void theApiOpensCreditsDebitsAndRefusesWhatItMust() throws Exception {
        start(null);
        HttpResponse<String> opened = post("/accounts", "{\"owner\": \"Ada\"}");
        assertEquals(201, opened.statusCode(), opened.body());
        String id = json(opened).get("id").asText();

        assertEquals(200, post("/accounts/" + id + "/credit", "{\"amount\": 100}").statusCode());
        HttpResponse<String> debited = post("/accounts/" + id + "/debit", "{\"amount\": 30}");
        assertEquals(70, json(debited).get("balance").asLong());
        assertEquals(2, json(debited).get("version").asLong());

        HttpResponse<String> tooMuch = post("/accounts/" + id + "/debit", "{\"amount\": 71}");
        assertEquals(409, tooMuch.statusCode());
        assertEquals("insufficient_funds", json(tooMuch).get("error").asText());

        Map<String, Integer> bad = Map.of("{\"amount\": -5}", 400, "{\"amount\": 1.5}", 400, "not json", 400,
                "[1, 2]", 400, "{}", 400);
        for (Map.Entry<String, Integer> body : bad.entrySet()) {
            HttpResponse<String> response = post("/accounts/" + id + "/credit", body.getKey());
            assertEquals(body.getValue(), response.statusCode(), body.getKey() + " -> " + response.body());
            assertEquals("bad_request", json(response).get("error").asText());
        }
        assertEquals(400, post("/accounts", "{\"owner\": \" \"}").statusCode());
        assertEquals(404, post("/accounts/nobody/credit", "{\"amount\": 1}").statusCode());
        assertEquals(404, get(URI.create(commands.uri() + "/accounts/nobody")).statusCode());
        assertEquals(404, get(URI.create(commands.uri() + "/accounts/" + id + "/history")).statusCode());
        assertEquals(405, get(URI.create(commands.uri() + "/accounts")).statusCode());

        JsonNode account = json(get(URI.create(commands.uri() + "/accounts/" + id)));
        assertEquals("Ada", account.get("owner").asText());
        assertEquals(70, account.get("balance").asLong());

        assertTrue(reads.awaitPosition(store.lastPosition(), Duration.ofSeconds(20)));
        assertEquals(70L, reads.balances().get(id));
    }

    @Test
    void theApiRefusesOddPathsTextAfterTheBodyHugeBodiesAndABalancePastTheLongRange() throws Exception {
        start(null);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();

        assertEquals(404, post("/accountsX", "{\"owner\": \"Typo\"}").statusCode(), "no account opened on a typo");
        assertEquals(404, post("/accounts//credit", "{\"amount\": 1}").statusCode());
        assertEquals(404, get(URI.create(commands.uri() + "/accounts/%20")).statusCode());
        HttpResponse<String> trailing = post("/accounts/" + id + "/credit", "{\"amount\": 1}{\"amount\": 2}");
        assertEquals(400, trailing.statusCode(), trailing.body());
        HttpResponse<String> huge = post("/accounts/" + id + "/credit",
                "{\"amount\": 1, \"note\": \"" + "x".repeat(Http.MAX_BODY_BYTES) + "\"}");
        assertEquals(413, huge.statusCode(), "a body past the limit is refused, not read whole");

        assertEquals(200, post("/accounts/" + id + "/credit", "{\"amount\": " + Long.MAX_VALUE + "}").statusCode());
        HttpResponse<String> overflow = post("/accounts/" + id + "/credit", "{\"amount\": 1}");
        assertEquals(409, overflow.statusCode(), overflow.body());
        assertEquals("balance_limit", json(overflow).get("error").asText());
        assertEquals(Long.MAX_VALUE, json(get(URI.create(commands.uri() + "/accounts/" + id))).get("balance").asLong());
    }

    @Test
    void theReadModelAndItsOffsetSurviveARestartTogether(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("balances.json");
        start(model);
        String id = json(post("/accounts", "{\"owner\": \"Bo\"}")).get("id").asText();
        post("/accounts/" + id + "/credit", "{\"amount\": 40}");
        assertTrue(reads.awaitPosition(store.lastPosition(), Duration.ofSeconds(20)));
        reads.close();

        post("/accounts/" + id + "/credit", "{\"amount\": 2}");
        reads = new ReadSide(commands.feedUri(), model, "127.0.0.1", 0);
        assertTrue(reads.awaitPosition(store.lastPosition(), Duration.ofSeconds(20)));

        assertEquals(42L, reads.balances().get(id), "restored 40, then only the new credit, never a double count");
    }

    @Test
    void theDemoRunsOnTheEmbeddedXodusStoreAndItsDataOutlivesTheProcess(@TempDir Path dir) throws Exception {
        String[] args = {"--store", "xodus", "--data", dir.toString(), "--port", "0", "--read-port", "0", "--demo"};

        assertEquals(0, Main.run(Main.parse(args), null), "the demo's totals must match");

        try (dev.flux.xodus.XodusEventStore reopened = new dev.flux.xodus.XodusEventStore(dir.resolve("events"))) {
            assertTrue(reopened.lastPosition() > 0, "the events are on disk");
        }
        assertTrue(java.nio.file.Files.exists(dir.resolve("read-side").resolve("balances.json")), "the read model is on disk");
        assertEquals(0, Main.run(Main.parse(args), null), "a second run on the same data matches too");
    }

    @Test
    void theDemoRunsOnMongoDb(@TempDir Path dir) throws Exception {
        de.bwaldvogel.mongo.MongoServer server = new de.bwaldvogel.mongo.MongoServer(
                new de.bwaldvogel.mongo.backend.memory.MemoryBackend());
        try {
            String uri = server.bindAndGetConnectionString() + "/accounts";
            String[] args = {"--store", "mongo", "--mongo-uri", uri, "--data", dir.toString(), "--port", "0",
                    "--read-port", "0", "--demo"};

            assertEquals(0, Main.run(Main.parse(args), null), "the demo's totals must match on MongoDB too");
        } finally {
            server.shutdownNow();
        }
    }

    @Test
    void theCommandLineRefusesWhatItDoesNotKnow() {
        assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--colour", "red"}));
        assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--store"}));
        assertThrows(IllegalArgumentException.class, () -> Main.run(Main.parse(new String[] {"--mode", "sideways"}), null));
        assertThrows(IllegalArgumentException.class,
                () -> Main.run(Main.parse(new String[] {"--store", "paper", "--port", "0", "--read-port", "0"}), null));
        IllegalArgumentException noUri = assertThrows(IllegalArgumentException.class,
                () -> Main.run(Main.parse(new String[] {"--store", "mongo", "--port", "0", "--read-port", "0"}), null));
        assertTrue(noUri.getMessage().contains("--mongo-uri"), noUri.getMessage());
    }
}
