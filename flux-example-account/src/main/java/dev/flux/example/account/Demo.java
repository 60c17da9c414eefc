package dev.flux.example.account;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flux.ConcurrencyConflictException;
import dev.flux.EventStore;
import dev.flux.Repository;
import dev.flux.subscription.Subscription;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@code --demo} run: opens accounts through the API, moves money concurrently, shows a conflict
 * being retried, waits for the read side and compares both sides' totals.
 */
final class Demo {
    private final EventStore store;
    private final CommandSide commands;
    private final ReadSide reads;
    private final PrintStream out;
    private final HttpClient http = HttpClient.newHttpClient();
    /** Opened by Ctrl-C: the demo ends at its next step, so that the caller closes the stores. */
    private final CountDownLatch stop;

    Demo(EventStore store, CommandSide commands, ReadSide reads, PrintStream out) {
        this(store, commands, reads, out, new CountDownLatch(1));
    }

    Demo(EventStore store, CommandSide commands, ReadSide reads, PrintStream out, CountDownLatch stop) {
        this.store = store;
        this.commands = commands;
        this.reads = reads;
        this.out = out;
        this.stop = stop;
    }

    private boolean stopped() {
        return stop.getCount() == 0;
    }

    private boolean stoppedEarly() {
        out.println("stopped before the end (Ctrl-C)");
        return false;
    }

    /** Runs it; true when the command side's and the read side's totals match, false when they differ or it was stopped. */
    boolean run(int accountCount, int threads, int movesPerThread) throws Exception {
        long started = System.nanoTime();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < accountCount; i++) {
            if (stopped()) {
                return stoppedEarly();
            }
            JsonNode opened = post(URI.create(commands.uri() + "/accounts"), "{\"owner\": \"owner " + i + "\"}", 201);
            String id = opened.get("id").asText();
            post(URI.create(commands.uri() + "/accounts/" + id + "/credit"), "{\"amount\": 1000}", 200);
            ids.add(id);
        }
        out.printf("opened %d accounts with 1000 each%n", accountCount);

        AtomicInteger moved = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    for (int i = 0; i < movesPerThread && !stopped(); i++) {
                        String id = ids.get(random.nextInt(ids.size()));
                        String action = random.nextBoolean() ? "credit" : "debit";
                        int status = postStatus(URI.create(commands.uri() + "/accounts/" + id + "/" + action),
                                "{\"amount\": " + (1 + random.nextInt(400)) + "}");
                        if (status == 200) {
                            moved.incrementAndGet();
                        } else if (status == 409) {
                            refused.incrementAndGet();
                        } else {
                            throw new IllegalStateException(action + " on " + id + " answered " + status);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
        if (stopped()) {
            return stoppedEarly();
        }
        out.printf("%d threads moved money %d times (%d debits refused for insufficient funds) in %.1f s%n",
                threads, moved.get(), refused.get(), (System.nanoTime() - started) / 1e9);

        showConflict(ids.get(0));

        long head = store.lastPosition();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!reads.awaitPosition(head, Duration.ofMillis(100))) {
            if (stopped()) {
                return stoppedEarly();
            }
            if (reads.subscription().state() == Subscription.State.FAILED) {
                out.printf("the read side stopped at position %d: %s%n", reads.subscription().position(),
                        reads.subscription().failure().getMessage());
                return false;
            }
            if (System.nanoTime() - deadline > 0) {
                out.printf("the read side did not catch up with position %d (at %d)%n", head, reads.subscription().position());
                return false;
            }
        }
        long commandTotal = 0;
        long readTotal = 0;
        Map<String, Long> readBalances = reads.balances();
        for (String id : ids) {
            commandTotal += commands.accounts().load(id).balance();
            readTotal += readBalances.getOrDefault(id, 0L);
        }
        out.printf("command side total of the %d accounts: %d%nread side total of the same accounts:  %d"
                + " (through the feed, up to position %d; %.1f s in all)%n",
                ids.size(), commandTotal, readTotal, head, (System.nanoTime() - started) / 1e9);
        out.println(commandTotal == readTotal ? "totals match" : "TOTALS DIFFER");
        return commandTotal == readTotal;
    }

    /** Two writers load the same account; the second save loses, and {@code update} retries it. */
    private void showConflict(String id) {
        Repository<Account> accounts = commands.accounts();
        Account first = accounts.load(id);
        Account second = accounts.load(id);
        first.credit(5);
        first.save();
        second.credit(7);
        try {
            second.save();
            out.println("no conflict?");
        } catch (ConcurrencyConflictException e) {
            out.println("conflict, as expected: " + e.getMessage());
            Account retried = accounts.update(id, account -> account.credit(7));
            out.printf("retried through Repository.update: account %s now at version %d%n", id, retried.version());
        }
    }

    private JsonNode post(URI uri, String body, int expected) throws IOException, InterruptedException {
        HttpResponse<byte[]> response = http.send(request(uri, body), HttpResponse.BodyHandlers.ofByteArray());
        if (response.statusCode() != expected) {
            throw new IllegalStateException(uri + " answered " + response.statusCode() + ": " + new String(response.body()));
        }
        return Http.JSON.readTree(response.body());
    }

    private int postStatus(URI uri, String body) throws IOException, InterruptedException {
        return http.send(request(uri, body), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private static HttpRequest request(URI uri, String body) {
        return HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }
}
