package dev.flux.example.account;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flux.FluxException;
import dev.flux.memory.InMemoryEventStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
        return post(path, "application/json", body);
    }

    private HttpResponse<String> post(String path, String contentType, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(commands.uri() + path)).timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(URI uri) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> response) throws Exception {
        return Http.JSON.readTree(response.body());
    }

    /** A connection that sends {@code part} of a request and then nothing more. */
    private static Socket stall(URI server, String part) throws IOException {
        Socket socket = new Socket("127.0.0.1", server.getPort());
        socket.getOutputStream().write(part.getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return socket;
    }

    /** How long after {@code started} the server dropped the connection; fails if it answered, or held it {@code within}. */
    private static Duration droppedAfter(Socket socket, long started, Duration within) throws IOException {
        socket.setSoTimeout((int) Math.max(1, within.minus(elapsed(started)).toMillis()));
        try {
            assertEquals(-1, socket.getInputStream().read(), "dropped without an answer");
        } catch (SocketTimeoutException e) {
            fail("the server still held the stalled request " + elapsed(started).toMillis() + " ms after it began");
        } catch (SocketException reset) {
            // dropped too
        }
        return elapsed(started);
    }

    private static Duration elapsed(long startedNanos) {
        return Duration.ofNanos(System.nanoTime() - startedNanos);
    }

    /** An answer read off a socket of the test's own: its status and body. */
    private record Answer(int status, String body) {
        JsonNode json() throws IOException {
            return Http.JSON.readTree(body);
        }
    }

    /** Sends {@code request} as it is, over a socket of its own (the JDK HttpClient cannot set Host), and reads the answer to the end. */
    private static Answer send(URI server, String request) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", server.getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(answer.startsWith("HTTP/1.1 "), answer);
            return new Answer(Integer.parseInt(answer.substring(9, 12)), answer.substring(answer.indexOf("\r\n\r\n") + 4));
        }
    }

    private static Answer get(URI server, String path, String host) throws IOException {
        return send(server, "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    }

    private static Answer post(URI server, String path, String host, String json) throws IOException {
        return send(server, "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + json.length() + "\r\n\r\n" + json);
    }

    /** Runs curl on {@code arguments}: the body it printed and the status. */
    private static String[] curl(String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-s", "-m", "10", "-w", "\n%{http_code}"));
        command.addAll(List.of(arguments));
        Process curl = new ProcessBuilder(command).start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(curl.waitFor(30, TimeUnit.SECONDS));
        int end = out.lastIndexOf('\n');
        return new String[] {out.substring(0, end), out.substring(end + 1)};
    }

    private static boolean commandExists(String command) {
        try {
            return new ProcessBuilder(command, "--version").redirectErrorStream(true).start().waitFor(10, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            return false;
        }
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
        assertEquals("{\"error\":\"insufficient_funds\",\"message\":\"account " + id + " holds 70, cannot debit 71\"}",
                tooMuch.body(), "the body as the README shows it, error first");

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
    void anAccountIsShownAsItWasAtAVersionAndAVersionItHasNotReachedOrABadQueryIsRefused() throws Exception {
        start(null);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();
        post("/accounts/" + id + "/credit", "{\"amount\": 100}");
        post("/accounts/" + id + "/debit", "{\"amount\": 30}");
        URI account = URI.create(commands.uri() + "/accounts/" + id);

        List<Long> balances = new ArrayList<>();
        for (int version = 0; version <= 2; version++) {
            HttpResponse<String> then = get(URI.create(account + "?version=" + version));
            assertEquals(200, then.statusCode(), then.body());
            assertEquals(version, json(then).get("version").asLong());
            balances.add(json(then).get("balance").asLong());
        }
        assertEquals(List.of(0L, 100L, 70L), balances);

        HttpResponse<String> beyond = get(URI.create(account + "?version=3"));
        assertEquals(404, beyond.statusCode());
        assertEquals("account " + id + " has no version 3: its last is 2", json(beyond).get("message").asText());
        assertEquals(404, get(URI.create(commands.uri() + "/accounts/nobody?version=0")).statusCode());
        for (String query : List.of("version=-1", "version=two", "version=", "version=1&version=2", "verison=1", "x")) {
            HttpResponse<String> bad = get(URI.create(account + "?" + query));
            assertEquals(400, bad.statusCode(), query + " -> " + bad.body());
            assertEquals("bad_request", json(bad).get("error").asText());
        }
        String past = "9223372036854775808";
        HttpResponse<String> unreadable = get(URI.create(account + "?version=" + past));
        assertEquals(400, unreadable.statusCode(), unreadable.body());
        assertEquals("'version' must be a whole number from 0 to 9223372036854775807, was '" + past + "'",
                json(unreadable).get("message").asText(), "a whole number >= 0 it is; what is wrong is its size");
        if (commandExists("curl")) {
            String[] curled = curl(account + "?version=1");
            assertEquals("200", curled[1]);
            assertEquals(100, Http.JSON.readTree(curled[0]).get("balance").asLong());
        }
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
    void theTotalOfBalancesPastTheLongRangeIsShownWholeNotWrappedNegative() throws Exception {
        start(null);
        for (String owner : List.of("Ada", "Bo")) {
            String id = json(post("/accounts", "{\"owner\": \"" + owner + "\"}")).get("id").asText();
            assertEquals(200, post("/accounts/" + id + "/credit", "{\"amount\": " + Long.MAX_VALUE + "}").statusCode());
        }
        assertTrue(reads.awaitPosition(store.lastPosition(), Duration.ofSeconds(20)));

        JsonNode balances = json(get(reads.uri()));
        ArithmeticException tooBig = assertThrows(ArithmeticException.class, reads::total);

        assertEquals(java.math.BigInteger.valueOf(Long.MAX_VALUE).shiftLeft(1), balances.get("total").bigIntegerValue(),
                "two balances of Long.MAX_VALUE: " + balances);
        assertEquals("the total of the balances, 18446744073709551614, passes the long range; GET /balances gives it whole",
                tooBig.getMessage());
    }

    @Test
    void aFieldGivenTwiceIsRefusedNamingItAndMovesNoMoney() throws Exception {
        start(null);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();
        post("/accounts/" + id + "/credit", "{\"amount\": 100}");

        HttpResponse<String> twice = post("/accounts/" + id + "/debit", "{\"amount\": 1, \"amount\": 90}");
        HttpResponse<String> ownerTwice = post("/accounts", "{\"owner\": \"Ada\", \"owner\": \"Bo\"}");

        assertEquals(400, twice.statusCode(), twice.body());
        assertEquals("bad_request", json(twice).get("error").asText());
        assertTrue(json(twice).get("message").asText().contains("Duplicate field 'amount'"), twice.body());
        assertEquals(400, ownerTwice.statusCode(), ownerTwice.body());
        JsonNode account = json(get(URI.create(commands.uri() + "/accounts/" + id)));
        assertEquals(100, account.get("balance").asLong(), "neither amount was taken");
        assertEquals(1, account.get("version").asLong());
        assertEquals(2, store.lastPosition(), "no account opened for either owner");
    }

    @Test
    void aBodyWithAFieldTheApiDoesNotTakeIsRefusedNamingItAndChangesNothing() throws Exception {
        start(null);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();
        post("/accounts/" + id + "/credit", "{\"amount\": 100}");
        long before = store.lastPosition();

        HttpResponse<String> typo = post("/accounts/" + id + "/credit", "{\"amout\": 5}");
        HttpResponse<String> typoBeside = post("/accounts/" + id + "/debit", "{\"amount\": 5, \"amout\": 50}");
        HttpResponse<String> balance = post("/accounts", "{\"owner\": \"Bo\", \"balance\": 100}");

        assertEquals(400, typo.statusCode(), typo.body());
        assertEquals("bad_request", json(typo).get("error").asText());
        assertEquals("the body has an unknown field 'amout'; POST /accounts/" + id + "/credit takes only 'amount'",
                json(typo).get("message").asText(), "the typo named, not taken for a missing amount");
        assertEquals(400, typoBeside.statusCode(), typoBeside.body());
        assertTrue(json(typoBeside).get("message").asText().contains("unknown field 'amout'"), typoBeside.body());
        assertEquals(400, balance.statusCode(), balance.body());
        assertEquals("the body has an unknown field 'balance'; POST /accounts takes only 'owner'",
                json(balance).get("message").asText());
        assertEquals(before, store.lastPosition(), "no money moved, no account opened");
        assertEquals(100, json(get(URI.create(commands.uri() + "/accounts/" + id))).get("balance").asLong());
    }

    @Test
    void headOnTheGetResourcesAnswersAsGetWithoutABody() throws Exception {
        start(null);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();
        assertTrue(reads.awaitPosition(store.lastPosition(), Duration.ofSeconds(20)));
        URI account = URI.create(commands.uri() + "/accounts/" + id);

        for (URI resource : List.of(account, reads.uri())) {
            HttpResponse<String> got = get(resource);
            HttpResponse<String> head = http.send(HttpRequest.newBuilder(resource).method("HEAD", HttpRequest.BodyPublishers.noBody())
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> after = get(resource);   // the same connection, still in step

            assertEquals(200, head.statusCode(), resource.toString());
            assertEquals("", head.body());
            assertEquals("application/json; charset=utf-8", head.headers().firstValue("Content-Type").orElse(""));
            assertEquals(String.valueOf(got.body().getBytes(StandardCharsets.UTF_8).length),
                    head.headers().firstValue("Content-Length").orElse(""), "the length GET's body has");
            assertEquals(got.body(), after.body());
            Answer raw = send(resource, "HEAD " + resource.getPath() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            assertEquals(200, raw.status());
            assertEquals("", raw.body(), "no body bytes after the headers");
        }
        Answer notFound = send(commands.uri(), "HEAD /accounts/nobody HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        HttpResponse<String> postOnly = http.send(HttpRequest.newBuilder(URI.create(commands.uri() + "/accounts"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(404, notFound.status());
        assertEquals("", notFound.body());
        assertEquals(405, postOnly.statusCode());
        assertEquals("POST", postOnly.headers().firstValue("Allow").orElse(""));
        HttpResponse<String> put = http.send(HttpRequest.newBuilder(account).PUT(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(405, put.statusCode());
        assertEquals("GET, HEAD", put.headers().firstValue("Allow").orElse(""));
        assertEquals("/accounts/" + id + " takes GET, HEAD, not PUT", json(put).get("message").asText());
    }

    @Test
    void aReadSideWhoseSubscriptionFailedAnswers503NamingTheFailureWhileTheCommandSideWorks(@TempDir Path dir) throws Exception {
        // A read model stored at position 50 of a feed that now ends at 0: a memory command side started again.
        Path model = dir.resolve("balances.json");
        java.nio.file.Files.writeString(model, "{\"position\": 50, \"balances\": {\"gone\": 70}}");
        start(model);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (reads.subscription().state() != dev.flux.subscription.Subscription.State.FAILED) {
            assertTrue(System.nanoTime() < deadline, "the subscription failed: " + reads.subscription().state());
            Thread.sleep(20);
        }

        HttpResponse<String> balances = get(reads.uri());
        HttpResponse<String> opened = post("/accounts", "{\"owner\": \"Ada\"}");
        HttpResponse<String> credited = post("/accounts/" + json(opened).get("id").asText() + "/credit", "{\"amount\": 5}");

        assertEquals(503, balances.statusCode(), balances.body());
        assertEquals("application/json; charset=utf-8", balances.headers().firstValue("Content-Type").orElse(""));
        assertEquals("read_side_failed", json(balances).get("error").asText(), balances.body());
        String message = json(balances).get("message").asText();
        assertTrue(message.startsWith("the balances stopped at position 50 and no longer follow the feed " + commands.feedUri()), message);
        assertTrue(message.contains("beyond the end of its source") && message.contains("delete " + model), message);
        assertEquals(201, opened.statusCode(), opened.body());
        assertEquals(200, credited.statusCode(), credited.body());
        assertEquals(503, get(reads.uri()).statusCode(), "still refused: the balances do not move");
    }

    @Test
    void aPathNoSideServesGetsAJsonNotFoundNamingWhatIsServed() throws Exception {
        start(null);

        for (URI unknown : List.of(URI.create(commands.uri() + "/"), URI.create(commands.uri() + "/account"),
                reads.uri().resolve("/"), reads.uri().resolve("/accounts"))) {
            HttpResponse<String> answer = get(unknown);

            assertEquals(404, answer.statusCode(), unknown + ": " + answer.body());
            assertEquals("application/json; charset=utf-8", answer.headers().firstValue("Content-Type").orElse(""), unknown.toString());
            assertEquals("not_found", json(answer).get("error").asText(), answer.body());
            assertTrue(json(answer).get("message").asText().contains("no such resource: " + unknown.getPath() + "; this server serves /"),
                    answer.body());
        }
        assertEquals(421, get(commands.uri(), "/", "attacker.example").status(), "the Host guard comes first");
    }

    @Test
    void everyBalancesAnswerIsOneConsistentSnapshotWhileEventsArrive() throws Exception {
        start(null);
        int accounts = 200;
        for (int i = 0; i < accounts; i++) {
            store.append("Account-" + i, dev.flux.ExpectedVersion.NO_STREAM,
                    List.of(event("AccountOpened", "{\"owner\": \"owner " + i + "\"}")));
        }
        assertTrue(reads.awaitPosition(accounts, Duration.ofSeconds(20)));
        java.util.concurrent.atomic.AtomicBoolean asked = new java.util.concurrent.atomic.AtomicBoolean();
        CompletableFuture<Void> credits = CompletableFuture.runAsync(() -> {
            for (int i = 0; !asked.get() && i < 1_000_000; i++) {
                store.append("Account-" + (i % accounts), dev.flux.ExpectedVersion.ANY,
                        List.of(event("AccountCredited", "{\"amount\": 1}")));
                java.util.concurrent.locks.LockSupport.parkNanos(20_000);   // a steady stream, not a heap full
            }
        });

        for (int answers = 0; answers < 500 && !credits.isDone(); answers++) {
            JsonNode balances = json(http.send(HttpRequest.newBuilder(reads.uri()).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString()));
            long sum = 0;
            for (JsonNode balance : (Iterable<JsonNode>) () -> balances.get("accounts").elements()) {
                sum += balance.asLong();
            }
            long credited = balances.get("position").asLong() - accounts;   // every event after the opens credits 1

            assertEquals(sum, balances.get("total").asLong(), "the total is the sum of the balances shown");
            assertEquals(credited, sum, "the balances hold exactly the events up to the position shown");
        }
        asked.set(true);
        credits.get();
    }

    private static dev.flux.EventData event(String type, String json) {
        return new dev.flux.EventData(java.util.UUID.randomUUID(), type, json.getBytes(StandardCharsets.UTF_8), Map.of());
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
    void aReadModelFileThatIsNotOneTheExampleWroteIsRefusedNotTakenForZero(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("balances.json");
        for (String content : List.of("{\"position\": null, \"balances\": {\"a\": 40}}",
                "{\"position\": \"x\", \"balances\": {}}", "{\"position\": -1, \"balances\": {}}",
                "{\"position\": 2, \"balances\": []}", "{\"position\": 2, \"balances\": {\"a\": \"forty\"}}",
                "{\"position\": 2}", "{}", "", "[]")) {
            java.nio.file.Files.writeString(model, content);

            FluxException refused = assertThrows(FluxException.class, () -> new Balances(model), content);

            assertTrue(refused.getMessage().contains(model.toString())
                    && refused.getMessage().contains("delete the file to rebuild"), refused.getMessage());
        }
        java.nio.file.Files.writeString(model, "{\"position\": 2, \"balances\": {\"a\": 40}}");
        Balances written = new Balances(model);
        assertEquals(OptionalLong.of(2), written.find("balances"));
        assertEquals(Map.of("a", 40L), written.snapshot());
    }

    @Test
    void aReadModelSaveThatCannotWriteItsFileLeavesTheOffsetStoredBefore(@TempDir Path dir) throws Exception {
        Balances model = new Balances(dir.resolve("read-side").resolve("balances.json"));
        java.nio.file.Files.delete(dir.resolve("read-side"));
        java.nio.file.Files.writeString(dir.resolve("read-side"), "a file where the model's directory should be");

        FluxException refused = assertThrows(FluxException.class, () -> model.save("balances", 7));

        assertTrue(refused.getMessage().contains("balances.json"), refused.getMessage());
        assertEquals(OptionalLong.empty(), model.find("balances"), "nothing was stored");
        assertEquals(0, model.load("balances"));
    }

    @Test
    void aReadSideWhoseModelDirectoryIsAFileRefusesToStartNamingItAndTheExampleEnds(@TempDir Path dir) throws Exception {
        java.nio.file.Files.writeString(dir.resolve("read-side"), "a file where the model's directory should be");
        commands = new CommandSide(store, "127.0.0.1", 0);

        FluxException refused = assertThrows(FluxException.class, () -> new ReadSide(commands.feedUri(),
                dir.resolve("read-side").resolve("balances.json"), "127.0.0.1", 0));
        assertTrue(refused.getMessage().contains(dir.resolve("read-side") + " is a file, not a directory")
                && refused.getMessage().contains("--data"), refused.getMessage());

        String[] args = {"--store", "xodus", "--data", dir.toString(), "--port", "0", "--read-port", "0"};
        FluxException ended = assertThrows(FluxException.class, () -> Main.run(Main.parse(args), new CountDownLatch(0)),
                "the example ends (exit 1, the message on one line) instead of running a read side that cannot store");
        assertTrue(ended.getMessage().contains("is a file, not a directory"), ended.getMessage());
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
    void aPostWhoseBodyIsNotJsonIsRefusedWith415AndChangesNothing() throws Exception {
        start(null);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();
        long before = store.lastPosition();

        // The first three are what a web page can make a browser post to any site without asking it first.
        for (String type : Arrays.asList("text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x", "application/jsonp", null)) {
            HttpResponse<String> opened = post("/accounts", type, "{\"owner\": \"Mallory\"}");
            HttpResponse<String> credited = post("/accounts/" + id + "/credit", type, "{\"amount\": 1000}");
            for (HttpResponse<String> refused : List.of(opened, credited)) {
                assertEquals(415, refused.statusCode(), type + " -> " + refused.body());
                assertEquals("unsupported_media_type", json(refused).get("error").asText());
                String message = json(refused).get("message").asText();
                assertTrue(message.contains("takes Content-Type application/json, not " + (type == null ? "none" : "'" + type + "'")),
                        message);
                assertEquals("application/json", refused.headers().firstValue("Accept-Post").orElse(null));
            }
        }

        assertEquals(before, store.lastPosition(), "nothing was written");
        assertEquals(200, post("/accounts/" + id + "/credit", "application/json; charset=utf-8", "{\"amount\": 1}").statusCode());
        assertEquals(201, post("/accounts", "Application/JSON;charset=UTF-8", "{\"owner\": \"Bo\"}").statusCode());
    }

    @Test
    void curlAsTheReadmeShowsItWorksAndWithoutTheJsonContentTypeOrUnderAnotherHostIsRefused() throws Exception {
        assumeTrue(commandExists("curl"), "curl is not installed");
        start(null);
        String accounts = commands.uri() + "/accounts";

        String[] opened = curl("-X", "POST", accounts, "-H", "Content-Type: application/json", "-d", "{\"owner\": \"Ada\"}");
        String id = Http.JSON.readTree(opened[0]).get("id").asText();
        String[] credited = curl("-X", "POST", accounts + "/" + id + "/credit", "-H", "Content-Type: application/json",
                "-d", "{\"amount\": 100}");
        String[] debited = curl("-X", "POST", accounts + "/" + id + "/debit", "-H", "Content-Type: application/json",
                "-d", "{\"amount\": 500}");
        String[] plain = curl("-X", "POST", accounts + "/" + id + "/credit", "-d", "{\"amount\": 100}");
        String[] rebound = curl(reads.uri().toString(), "-H", "Host: attacker.example");

        assertEquals("201", opened[1], opened[0]);
        assertEquals("200", credited[1], credited[0]);
        assertEquals(100, Http.JSON.readTree(credited[0]).get("balance").asLong());
        assertEquals("409", debited[1], debited[0]);
        assertEquals("415", plain[1], "curl -d sends application/x-www-form-urlencoded: " + plain[0]);
        assertTrue(plain[0].contains("not 'application/x-www-form-urlencoded'"), plain[0]);
        assertEquals("421", rebound[1], rebound[0]);
        assertTrue(rebound[0].contains("start it with --allowed-hosts attacker.example"), rebound[0]);
        assertEquals(100, json(get(URI.create(accounts + "/" + id))).get("balance").asLong());
    }

    @Test
    void aRequestNotInWholeWithinTheTimeoutIsDroppedWhileOtherClientsAreServed() throws Exception {
        Duration timeout = Duration.ofSeconds(2);
        commands = new CommandSide(store, "127.0.0.1", 0, timeout);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();
        long started = System.nanoTime();
        Socket halfHeaders = stall(commands.uri(), "POST /accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty");
        Socket halfBody = stall(commands.uri(), "POST /accounts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"owner\": ");

        HttpResponse<String> credited = post("/accounts/" + id + "/credit", "{\"amount\": 5}");
        String[] curled = commandExists("curl") ? curl(commands.uri() + "/accounts/" + id) : new String[] {"", "200"};
        Duration served = elapsed(started);

        assertEquals(200, credited.statusCode(), credited.body());
        assertEquals("200", curled[1], curled[0]);
        for (Socket stalled : List.of(halfHeaders, halfBody)) {
            try (stalled) {
                Duration dropped = droppedAfter(stalled, started, timeout.plusSeconds(6));
                // The lower bound is exact (nothing is dropped before its time); above it a loaded machine gets 3 s.
                assertTrue(dropped.compareTo(timeout) >= 0 && dropped.compareTo(timeout.plusSeconds(3)) <= 0,
                        "dropped " + dropped.toMillis() + " ms after it began, with a timeout of " + timeout.toMillis() + " ms");
                assertTrue(served.compareTo(dropped) < 0, "served in " + served.toMillis() + " ms, while the others stalled,"
                        + " not after this one was dropped (" + dropped.toMillis() + " ms)");
            }
        }
    }

    @Test
    void moreStalledClientsThanThreadsHoldUpOthersOnlyUntilTheTimeout() throws Exception {
        Duration timeout = Duration.ofSeconds(1);
        commands = new CommandSide(store, "127.0.0.1", 0, timeout);
        reads = new ReadSide(commands.feedUri(), null, "127.0.0.1", 0, timeout);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();
        List<Socket> stalled = new ArrayList<>();
        try {
            long started = System.nanoTime();
            for (int i = 0; i < 12; i++) { // the command side has 8 threads
                stalled.add(stall(commands.uri(), i % 2 == 0 ? "POST /accounts/" + id + "/credit HTTP/1.1\r\nHo"
                        : "POST /accounts/" + id + "/credit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99\r\n\r\n{"));
            }
            for (int i = 0; i < 6; i++) { // the read side has 4
                stalled.add(stall(reads.uri(), "GET /balances HTTP/1.1\r\nHo"));
            }
            Thread.sleep(200); // the servers hand the stalled requests their threads

            HttpResponse<String> credited = post("/accounts/" + id + "/credit", "{\"amount\": 5}");
            HttpResponse<String> balances = http.send(HttpRequest.newBuilder(reads.uri()).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            Duration served = elapsed(started);

            assertEquals(200, credited.statusCode(), credited.body());
            assertEquals(200, balances.statusCode(), balances.body());
            assertTrue(served.compareTo(timeout.multipliedBy(2).plusSeconds(1)) < 0, "served after " + served.toMillis() + " ms");
        } finally {
            for (Socket socket : stalled) {
                socket.close();
            }
        }
    }

    @Test
    void theTimeoutSparesARequestThatComesInWholeInTimeAndALongPollThatOutlastsIt() throws Exception {
        Duration timeout = Duration.ofSeconds(2);
        commands = new CommandSide(store, "127.0.0.1", 0, timeout);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();

        String status;
        try (Socket slow = stall(commands.uri(), "POST /accounts/" + id + "/credit HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"amount\"")) {
            Thread.sleep(timeout.toMillis() / 4);   // 1.5 s slack for a loaded machine
            slow.getOutputStream().write(": 5}".getBytes(StandardCharsets.US_ASCII));
            slow.setSoTimeout(10_000);
            status = new BufferedReader(new InputStreamReader(slow.getInputStream(), StandardCharsets.US_ASCII)).readLine();
        }
        long polled = System.nanoTime();
        CompletableFuture<HttpResponse<String>> poll = http.sendAsync(HttpRequest.newBuilder(
                URI.create(commands.feedUri() + "?after=" + store.lastPosition() + "&wait=10")).build(), HttpResponse.BodyHandlers.ofString());
        Thread.sleep(timeout.toMillis() + 300);
        post("/accounts/" + id + "/credit", "{\"amount\": 7}");
        HttpResponse<String> answered = poll.get(10, TimeUnit.SECONDS);

        assertEquals("HTTP/1.1 200 OK", status);
        assertEquals(200, answered.statusCode(), answered.body());
        assertTrue(elapsed(polled).compareTo(timeout) > 0);
        assertEquals(store.lastPosition(), json(answered).get("events").get(0).get("position").asLong());
        assertEquals(12, json(get(URI.create(commands.uri() + "/accounts/" + id))).get("balance").asLong());
    }

    @Test
    void aRequestNamingAnotherHostIsRefusedOnEverySideAndChangesNothing() throws Exception {
        start(null);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();
        long before = store.lastPosition();
        // What a browser sends once a page's DNS name points at 127.0.0.1: the page's own name, with the port.
        String attacker = "attacker.example:" + commands.uri().getPort();

        List<Answer> answers = List.of(
                post(commands.uri(), "/accounts", attacker, "{\"owner\": \"Mallory\"}"),
                post(commands.uri(), "/accounts/" + id + "/credit", attacker, "{\"amount\": 1000}"),
                get(commands.uri(), "/accounts/" + id, attacker),
                get(commands.uri(), "/events?after=0", attacker),
                get(reads.uri(), "/balances", "attacker.example:" + reads.uri().getPort()),
                get(reads.uri(), "/balances", "attacker.example"));

        for (Answer refused : answers) {
            assertEquals(421, refused.status(), refused.body());
            assertEquals("misdirected_request", refused.json().get("error").asText());
            String message = refused.json().get("message").asText();
            assertTrue(message.contains("does not answer to Host 'attacker.example") && message.endsWith("--allowed-hosts attacker.example"),
                    message);
        }
        assertEquals(before, store.lastPosition(), "nothing was written");
        assertEquals(0, json(get(URI.create(commands.uri() + "/accounts/" + id))).get("balance").asLong());
    }

    @Test
    void bothSidesAnswerToTheirLoopbackNamesWithAnyPortOrNoneAndNotToLookalikes() throws Exception {
        start(null);
        String id = json(post("/accounts", "{\"owner\": \"Ada\"}")).get("id").asText();

        for (URI resource : List.of(URI.create(commands.uri() + "/accounts/" + id), commands.feedUri(), reads.uri())) {
            int port = resource.getPort();
            // Another port is what a tunnel (ssh -L 9000:127.0.0.1:8080) or a proxy sends.
            for (String host : List.of("localhost", "localhost:" + port, "127.0.0.1", "127.0.0.1:" + port, "[::1]",
                    "[::1]:" + port, "LocalHost:" + port, "localhost:9000")) {
                Answer served = get(resource, resource.getPath(), host);
                assertEquals(200, served.status(), host + " -> " + served.body());
            }
            for (String host : List.of("localhost.attacker.example", "127.0.0.1.nip.io:" + port, "attacker-localhost",
                    "localhost:" + port + ":" + port, "localhost, attacker.example", "[::1].attacker.example", "")) {
                Answer refused = get(resource, resource.getPath(), host);
                assertEquals(421, refused.status(), "'" + host + "' -> " + refused.body());
            }
        }
    }

    @Test
    void aNameGivenWithAllowedHostsIsServedOnBothSidesAndNoOtherNameIs() throws Exception {
        int port = freePort();
        int readPort = freePort();
        CountDownLatch stop = new CountDownLatch(1);
        CompletableFuture<Integer> running = CompletableFuture.supplyAsync(() -> {
            try {
                return Main.run(Main.parse(new String[] {"--store", "memory", "--port", String.valueOf(port),
                        "--read-port", String.valueOf(readPort), "--allowed-hosts", "Accounts.Internal, 10.1.2.3"}), stop);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            URI commandSide = URI.create("http://127.0.0.1:" + port);
            URI readSide = URI.create("http://127.0.0.1:" + readPort);
            awaitListening(readSide, running);

            Answer opened = post(commandSide, "/accounts", "accounts.internal:" + port, "{\"owner\": \"Ada\"}");
            Answer feed = get(commandSide, "/events?after=0", "10.1.2.3");
            Answer balances = get(readSide, "/balances", "ACCOUNTS.internal");
            Answer other = get(readSide, "/balances", "other.internal:" + readPort);

            assertEquals(201, opened.status(), opened.body());
            assertEquals(200, feed.status(), feed.body());
            assertEquals(200, balances.status(), balances.body());
            assertEquals(421, other.status(), other.body());
            assertEquals(200, get(commandSide, "/events?after=0", "localhost:" + port).status(), "its own names still served");
        } finally {
            stop.countDown();
        }
        assertEquals(0, running.get(30, TimeUnit.SECONDS));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** Waits until {@code server} takes connections; fails if {@code running} ended first. */
    private static void awaitListening(URI server, CompletableFuture<?> running) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            if (running.isDone()) {
                fail("Main.run ended before its servers started: " + running.get());
            }
            try (Socket ignored = new Socket("127.0.0.1", server.getPort())) {
                return;
            } catch (ConnectException notYet) {
                assertTrue(System.nanoTime() < deadline, "nothing listens on " + server);
                Thread.sleep(20);
            }
        }
    }

    @Test
    void theCommandLineRefusesAnAllowedHostThatIsNotAHostNameOrAddress() {
        Map<String, String> refused = Map.of(
                "", "'' has an empty one",
                "a.internal,,b.internal", "'a.internal,,b.internal' has an empty one",
                "accounts.internal:8080", "'accounts.internal:8080' is not a host name or IP address without a port",
                "http://accounts.internal", "'http://accounts.internal' is not",
                "accounts internal", "'accounts internal' is not",
                "fd00::5", "'fd00::5' is not a host name or IP address without a port (an IPv6 address goes in brackets)",
                "[::1", "'[::1' is not",
                "*", "'*' is not");
        for (Map.Entry<String, String> bad : refused.entrySet()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Main.run(Main.parse(new String[] {
                    "--store", "memory", "--port", "0", "--read-port", "0", "--allowed-hosts", bad.getKey()}), null));
            assertTrue(e.getMessage().startsWith("--allowed-hosts") && e.getMessage().contains(bad.getValue()),
                    bad.getKey() + " -> " + e.getMessage());
        }
    }

    @Test
    void aRequestWithoutAHostIsServedOverHttp10AndRefusedOverHttp11AsAreTwoHosts() throws Exception {
        start(null);

        for (URI resource : List.of(commands.feedUri(), reads.uri())) {
            Answer http10 = send(resource, "GET " + resource.getPath() + " HTTP/1.0\r\n\r\n");
            Answer http11 = send(resource, "GET " + resource.getPath() + " HTTP/1.1\r\nConnection: close\r\n\r\n");
            Answer twoHosts = send(resource, "GET " + resource.getPath() + " HTTP/1.1\r\nHost: localhost\r\n"
                    + "Host: attacker.example\r\nConnection: close\r\n\r\n");

            assertEquals(200, http10.status(), "no browser leaves Host out: " + http10.body());
            assertEquals(400, http11.status(), http11.body());
            assertEquals("an HTTP/1.1 request must have a Host header", http11.json().get("message").asText());
            assertEquals(400, twoHosts.status(), twoHosts.body());
            assertEquals("a request must have one Host header, this one has 2", twoHosts.json().get("message").asText());
        }
    }

    @Test
    void badOptionValuesAreRefusedBeforeAnythingOpensNamingTheOption() {
        for (String[] args : List.of(new String[] {"--port", "abc"}, new String[] {"--read-port", "70000"},
                new String[] {"--port", "-1"}, new String[] {"--feed", "not a url", "--mode", "read"},
                new String[] {"--feed", "ftp://host/events", "--mode", "read"},
                new String[] {"--store", "paper"}, new String[] {"--read-port", "9000", "--port", "9000"},
                new String[] {"--read-port", "8080"})) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> Main.check(Main.parse(args)));
            assertTrue(refused.getMessage().startsWith(args[0] + " "), refused.getMessage());
        }
        Main.check(Main.parse(new String[] {"--mode", "command", "--port", "8081"}));    // one side: one port
        Main.check(Main.parse(new String[] {"--mode", "read", "--feed", "http://orders.internal:8080/events"}));
    }

    @Test
    void aFeedGivenWhereNoReadSideFollowsOneIsRefusedInsteadOfIgnored() {
        for (String mode : List.of("both", "command")) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> Main.check(Main.parse(
                    new String[] {"--mode", mode, "--feed", "http://orders.internal:8080/events"})));
            assertTrue(refused.getMessage().startsWith("--feed ") && refused.getMessage().contains("--mode " + mode)
                    && refused.getMessage().contains("--mode read"), refused.getMessage());
        }
        IllegalArgumentException byDefault = assertThrows(IllegalArgumentException.class,
                () -> Main.check(Main.parse(new String[] {"--feed", "http://orders.internal:8080/events"})));
        assertTrue(byDefault.getMessage().contains("this process's own feed"), byDefault.getMessage());
        Main.check(Main.parse(new String[] {"--port", "0", "--read-port", "0"}));        // each picks a free one
    }

    @Test
    void aMalformedMongoUriIsRefusedBeforeAnythingOpensNamingTheOption() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Main.check(Main.parse(new String[] {"--store", "mongo", "--mongo-uri", "localhost:27017"})));
        assertTrue(refused.getMessage().startsWith("--mongo-uri ") && refused.getMessage().contains("localhost:27017"),
                refused.getMessage());
    }

    @Test
    void theLauncherSaysWhatIsWrongWithoutAStackTrace() throws Exception {
        ProcessResult badValue = launch("--port", "abc");
        assertEquals(2, badValue.exit(), badValue.output());
        assertTrue(badValue.output().contains("--port must be a port from 0 to 65535") && badValue.output().contains("usage:"),
                badValue.output());
        assertFalse(badValue.output().contains("Exception"), badValue.output());

        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            ProcessResult portInUse = launch("--store", "memory", "--port", String.valueOf(taken.getLocalPort()),
                    "--read-port", "0");
            assertEquals(1, portInUse.exit(), portInUse.output());
            assertTrue(portInUse.output().contains("flux example: the command side cannot listen on 127.0.0.1:"
                    + taken.getLocalPort()) && portInUse.output().contains("pick another port with --port"), portInUse.output());
            assertFalse(portInUse.output().contains("\tat "), "no stack trace: " + portInUse.output());
        }
    }

    @Test
    void theLaunchedExampleAnswersWithoutNaglesDelay() throws Exception {
        int port = freePort();
        Process example = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "--store", "memory", "--port",
                String.valueOf(port), "--read-port", "0").redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(example.getInputStream(), StandardCharsets.UTF_8));
            for (String line = out.readLine(); !line.startsWith("Ctrl-C"); line = out.readLine()) {
                assertTrue(line != null && !line.startsWith("flux example:"), "the example started: " + line);
            }
            URI account = URI.create("http://127.0.0.1:" + port + "/accounts/nobody");
            get(account);   // connected, warmed up

            long[] tookMillis = new long[100];
            for (int i = 0; i < tookMillis.length; i++) {
                long started = System.nanoTime();
                assertEquals(404, get(account).statusCode());
                tookMillis[i] = elapsed(started).toMillis();
            }
            Arrays.sort(tookMillis);

            // Nagle's algorithm holds the body behind the headers until the client's delayed ACK, which Linux sends
            // 40 ms on at the soonest: all but the first few answers take 40 ms and more however fast the machine.
            // Without it they take what the machine's load makes them (15 ms each at the middle on a starved one).
            assertTrue(tookMillis[tookMillis.length / 2] < 40, "100 answers on one connection, the middle one held "
                    + tookMillis[tookMillis.length / 2] + " ms: " + Arrays.toString(tookMillis));
        } finally {
            example.destroy();
            assertTrue(example.waitFor(30, TimeUnit.SECONDS), "the example stopped on SIGTERM");
        }
    }

    @Test
    void sigtermDuringTheDemoClosesTheStoresCleanly(@TempDir Path dir) throws Exception {
        Process demo = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "--store", "xodus", "--data", dir.toString(),
                "--port", "0", "--read-port", "0", "--demo").redirectErrorStream(true).start();
        StringBuilder output = new StringBuilder();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(demo.getInputStream(), StandardCharsets.UTF_8));
            for (String line = out.readLine(); line == null || !line.startsWith("opened "); line = out.readLine()) {
                assertTrue(line != null && !line.startsWith("flux example:"), "the demo started: " + output);
                output.append(line).append('\n');
            }

            // SIGTERM (as Ctrl-C's SIGINT, it runs the shutdown hooks) while money moves; the handle's, which leaves the output open
            assertTrue(demo.toHandle().destroy());

            assertTrue(demo.waitFor(60, TimeUnit.SECONDS), "the demo stopped: " + output);
            output.append(new String(demo.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } finally {
            demo.destroyForcibly();
        }
        assertTrue(output.toString().contains("stopped before the end"), output.toString());
        assertFalse(output.toString().contains("totals match"), "it stopped, rather than ran to its end: " + output);
        // The Xodus store writes its last position there only when it is closed (the store was new at the start).
        Path mark = dir.resolve("events").resolve("flux-last-position");
        assertTrue(java.nio.file.Files.exists(mark), "the event store was closed: " + output);
        try (dev.flux.xodus.XodusEventStore reopened = new dev.flux.xodus.XodusEventStore(dir.resolve("events"))) {
            assertEquals(reopened.lastPosition() + "\n", java.nio.file.Files.readString(mark), "closed after its last append");
            assertTrue(reopened.lastPosition() >= 20, "the accounts opened and credited are kept");
        }
    }

    @Test
    void aCommandSideThatCannotListenLeavesNoFeedRunningOnItsStore() throws Exception {
        int before = feedTimersAfterSettling(0);

        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThrows(java.net.BindException.class, () -> new CommandSide(store, "127.0.0.1", taken.getLocalPort()));
        }

        assertEquals(before, feedTimersAfterSettling(before), "feed timers still polling the store after the failed start");
    }

    /** The live feed timer threads, once their number has come down to {@code expected} or 5 s have passed. */
    private static int feedTimersAfterSettling(int expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            int timers = (int) Thread.getAllStackTraces().keySet().stream()
                    .filter(thread -> thread.isAlive() && thread.getName().equals("flux-feed-timer")).count();
            if (timers <= expected || System.nanoTime() > deadline) {
                return timers;
            }
            Thread.sleep(20);
        }
    }

    private record ProcessResult(int exit, String output) {
    }

    /** Runs Main in a child JVM on this test's class path. */
    private static ProcessResult launch(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the launcher ended: " + output);
        return new ProcessResult(process.exitValue(), output);
    }

    @Test
    void bothSidesRefuseABadArgumentNamingItBeforeAnythingOpens(@TempDir Path dir) {
        URI feed = URI.create("http://127.0.0.1:1/events");
        Duration timeout = Duration.ofSeconds(1);
        Path model = dir.resolve("read-side").resolve("balances.json");
        Map<String, org.junit.jupiter.api.function.Executable> refused = new java.util.LinkedHashMap<>();
        refused.put("store must be an open event store, was null", () -> new CommandSide(null, "127.0.0.1", 0));
        refused.put("host must be a host name or IP address to listen on, e.g. 127.0.0.1, was null",
                () -> new CommandSide(store, null, 0));
        refused.put("host must be a host name or IP address to listen on, e.g. 127.0.0.1, was ' '",
                () -> new ReadSide(feed, model, " ", 0));
        refused.put("host must be a host name or IP address of this machine, was 'no-such-host.invalid', which does not resolve",
                () -> new CommandSide(store, "no-such-host.invalid", 0));
        refused.put("port must be from 0 to 65535 (0 picks a free one), was -1", () -> new CommandSide(store, "127.0.0.1", -1));
        refused.put("port must be from 0 to 65535 (0 picks a free one), was 70000", () -> new ReadSide(feed, model, "127.0.0.1", 70000));
        refused.put("requestTimeout must be a positive duration, was null", () -> new CommandSide(store, "127.0.0.1", 0, null));
        refused.put("requestTimeout must be a positive duration, was PT0S", () -> new ReadSide(feed, model, "127.0.0.1", 0, Duration.ZERO));
        refused.put("allowedHosts must be a list of host names or IP addresses (List.of() for none), without nulls, was null",
                () -> new CommandSide(store, "127.0.0.1", 0, timeout, null));
        refused.put("allowedHosts must be a list of host names or IP addresses (List.of() for none), without nulls, was [a, null]",
                () -> new ReadSide(feed, model, "127.0.0.1", 0, timeout, Arrays.asList("a", null)));
        refused.put("feed must be the command side's feed URL, e.g. http://127.0.0.1:8080/events, was null",
                () -> new ReadSide(null, model, "127.0.0.1", 0));
        refused.put("feed must be the command side's feed URL, e.g. http://127.0.0.1:8080/events, was ftp://host/events",
                () -> new ReadSide(URI.create("ftp://host/events"), model, "127.0.0.1", 0));

        for (Map.Entry<String, org.junit.jupiter.api.function.Executable> call : refused.entrySet()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call.getValue(), call.getKey());
            assertEquals(call.getKey(), e.getMessage());
        }
        assertFalse(java.nio.file.Files.exists(dir.resolve("read-side")), "no model directory made for a read side refused");
    }

    @Test
    void theCommandLineRefusesWhatItDoesNotKnow() {
        assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--colour", "red"}));
        assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--store"}));
        assertThrows(IllegalArgumentException.class, () -> Main.run(Main.parse(new String[] {"--mode", "sideways"}), null));
        assertThrows(IllegalArgumentException.class,
                () -> Main.run(Main.parse(new String[] {"--store", "paper", "--port", "0", "--read-port", "0"}), null));
        for (String timeout : List.of("0", "-1", "1.5", "x")) {
            IllegalArgumentException badTimeout = assertThrows(IllegalArgumentException.class, () -> Main.run(Main.parse(
                    new String[] {"--store", "memory", "--port", "0", "--read-port", "0", "--request-timeout", timeout}), null));
            assertTrue(badTimeout.getMessage().contains("--request-timeout must be a whole number of seconds above 0, was " + timeout),
                    badTimeout.getMessage());
        }
        IllegalArgumentException noUri = assertThrows(IllegalArgumentException.class,
                () -> Main.run(Main.parse(new String[] {"--store", "mongo", "--port", "0", "--read-port", "0"}), null));
        assertTrue(noUri.getMessage().contains("--mongo-uri"), noUri.getMessage());
    }
}
