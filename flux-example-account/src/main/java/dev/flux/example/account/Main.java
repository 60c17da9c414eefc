package dev.flux.example.account;

import com.mongodb.ConnectionString;
import dev.flux.EventStore;
import dev.flux.FluxException;
import dev.flux.feed.AllowedHosts;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the account example.
 *
 * <pre>
 * java -jar flux-example-account/target/flux-example-account.jar [options]
 *
 *   --store xodus|memory|mongo   where events live (default xodus, in --data)
 *   --data DIR                   the Xodus directory and the read model's file (default ./data)
 *   --mongo-uri URI              the MongoDB connection string for --store mongo
 *   --mode both|command|read     run both sides (default), only the command side, or only the read side
 *   --port N                     the command side's port (default 8080; 0 picks a free one)
 *   --read-port N                the read side's port (default 8081; 0 picks a free one)
 *   --feed URL                   for --mode read: the command side's feed (default http://127.0.0.1:8080/events)
 *   --request-timeout S          drop a request that has not come in whole within S seconds, or an answer
 *                                that has stopped going out for as long (default 10)
 *   --allowed-hosts A,B          names besides localhost, 127.0.0.1 and [::1] that the servers answer to
 *                                in a request's Host header, e.g. accounts.internal (any other gets 421)
 *   --demo                       open accounts, move money concurrently, show a retried conflict,
 *                                print both sides' totals and exit (0 when they match)
 * </pre>
 */
public final class Main {
    /** The option naming the hosts, besides this machine's, that the servers answer to in the Host header. */
    static final String ALLOWED_HOSTS = "--allowed-hosts";
    private static final List<String> FLAGS = List.of("--demo");
    private static final List<String> OPTIONS = List.of("--store", "--data", "--mongo-uri", "--mode", "--port",
            "--read-port", "--feed", "--request-timeout", "--allowed-hosts");

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options;
        try {
            options = parse(args);
            check(options);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.println("usage: [--store xodus|memory|mongo] [--data DIR] [--mongo-uri URI] [--mode both|command|read]"
                    + " [--port N] [--read-port N] [--feed URL] [--request-timeout S] [--allowed-hosts A,B] [--demo]");
            System.exit(2);
            return;
        }
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        // Ctrl-C and SIGTERM, in every mode, the demo's too (registered before anything opens): stop the run and
        // let it close the stores, so that a Xodus directory is left closed cleanly, with its last position.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.countDown();
            try {
                closed.await(SHUTDOWN_WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "flux-example-shutdown"));
        int status;
        try {
            status = run(options, stop);
        } catch (FluxException | IOException e) {
            // A store that cannot open, a port in use: their messages say what and where; no stack trace.
            System.err.println("flux example: " + e.getMessage());
            status = 1;
        } finally {
            closed.countDown();
        }
        System.exit(status);
    }

    /** How long a Ctrl-C waits for the run to close the stores: longer than the read side's stop (30 s) takes at most. */
    private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(40);

    /**
     * Runs with parsed options until {@code stop} opens (or the demo ends, or {@code stop} ends it early);
     * the exit status. Everything it opened is closed when it returns. A null {@code stop} never opens.
     */
    static int run(Map<String, String> options, CountDownLatch stop) throws Exception {
        check(options);
        if (stop == null) {
            stop = new CountDownLatch(1);
        }
        String mode = options.getOrDefault("--mode", "both");
        boolean demo = options.containsKey("--demo");
        String storeName = options.getOrDefault("--store", "xodus");
        Path data = Path.of(options.getOrDefault("--data", "data"));
        int port = port("--port", options.getOrDefault("--port", "8080"));
        int readPort = port("--read-port", options.getOrDefault("--read-port", "8081"));
        Duration requestTimeout = options.containsKey("--request-timeout")
                ? seconds("--request-timeout", options.get("--request-timeout")) : CommandSide.DEFAULT_REQUEST_TIMEOUT;
        List<String> allowedHosts = options.containsKey(ALLOWED_HOSTS) ? allowedHosts(options.get(ALLOWED_HOSTS)) : List.of();
        Path modelFile = storeName.equals("memory") ? null : data.resolve("read-side").resolve("balances.json");

        if (mode.equals("read")) {
            URI feed = URI.create(options.getOrDefault("--feed", "http://127.0.0.1:8080/events"));
            try (ReadSide reads = new ReadSide(feed, modelFile, "127.0.0.1", readPort, requestTimeout, allowedHosts)) {
                System.out.println("read side:   " + reads.uri() + "  (following " + feed + ")");
                await(stop);
            }
            return 0;
        }
        try (EventStore store = Stores.open(storeName, data, options.get("--mongo-uri"));
             CommandSide commands = new CommandSide(store, "127.0.0.1", port, requestTimeout, allowedHosts)) {
            System.out.println("store:        " + switch (storeName) {
                case "xodus" -> "xodus in " + data.resolve("events").toAbsolutePath();
                case "memory" -> "memory (gone when the process ends)";
                default -> store.toString();
            });
            System.out.println("command side: " + commands.uri() + "/accounts");
            System.out.println("feed:         " + commands.feedUri());
            if (mode.equals("command")) {
                await(stop);
                return 0;
            }
            try (ReadSide reads = new ReadSide(commands.feedUri(), modelFile, "127.0.0.1", readPort, requestTimeout, allowedHosts)) {
                System.out.println("read side:    " + reads.uri());
                if (demo) {
                    return new Demo(store, commands, reads, System.out, stop).run(10, 8, 100) ? 0 : 1;
                }
                await(stop);
                return 0;
            }
        }
    }

    /**
     * Checks the options' values together, before anything opens.
     *
     * @throws IllegalArgumentException naming the option and what it takes
     */
    static void check(Map<String, String> options) {
        String mode = options.getOrDefault("--mode", "both");
        if (!List.of("both", "command", "read").contains(mode)) {
            throw new IllegalArgumentException("--mode must be both, command or read, was " + mode);
        }
        if (options.containsKey("--demo") && !mode.equals("both")) {
            throw new IllegalArgumentException("--demo runs both sides: leave --mode out");
        }
        String store = options.getOrDefault("--store", "xodus");
        if (!List.of("xodus", "memory", "mongo").contains(store)) {
            throw new IllegalArgumentException("--store must be xodus, memory or mongo, was " + store);
        }
        if (store.equals("mongo") && !mode.equals("read") && options.getOrDefault("--mongo-uri", "").isBlank()) {
            throw new IllegalArgumentException("--store mongo needs --mongo-uri, e.g. "
                    + "mongodb://db1:27017,db2:27017,db3:27017/accounts?replicaSet=rs0");
        }
        if (store.equals("mongo") && options.containsKey("--mongo-uri")) {
            try {
                new ConnectionString(options.get("--mongo-uri"));
            } catch (IllegalArgumentException e) {
                // The driver's message says what is malformed; parsing connects to nothing.
                throw new IllegalArgumentException("--mongo-uri must be a MongoDB connection string, e.g."
                        + " mongodb://db1:27017,db2:27017,db3:27017/accounts?replicaSet=rs0, was "
                        + options.get("--mongo-uri") + ": " + e.getMessage(), e);
            }
        }
        int port = port("--port", options.getOrDefault("--port", "8080"));
        int readPort = port("--read-port", options.getOrDefault("--read-port", "8081"));
        if (mode.equals("both") && port == readPort && port != 0) {
            throw new IllegalArgumentException("--read-port must differ from --port, both were " + port
                    + ": the two sides listen on ports of their own");
        }
        if (options.containsKey("--request-timeout")) {
            seconds("--request-timeout", options.get("--request-timeout"));
        }
        if (options.containsKey(ALLOWED_HOSTS)) {
            allowedHosts(options.get(ALLOWED_HOSTS));
        }
        if (options.containsKey("--feed") && !mode.equals("read")) {
            throw new IllegalArgumentException("--feed names the feed a read side alone follows, with --mode read; with"
                    + " --mode " + mode + " " + (mode.equals("both") ? "the read side follows this process's own feed"
                    : "no read side runs") + ": leave --feed out, or add --mode read");
        }
        if (options.containsKey("--feed")) {
            URI feed;
            try {
                feed = new URI(options.get("--feed"));
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("--feed must be the command side's feed URL, e.g."
                        + " http://127.0.0.1:8080/events, was " + options.get("--feed") + ": " + e.getMessage());
            }
            if (!"http".equals(feed.getScheme()) && !"https".equals(feed.getScheme()) || feed.getHost() == null) {
                throw new IllegalArgumentException("--feed must be an http(s) URL with a host, e.g."
                        + " http://127.0.0.1:8080/events, was " + feed);
            }
        }
    }

    private static int port(String option, String value) {
        if (!value.matches("[0-9]{1,5}") || Integer.parseInt(value) > 65535) {
            throw new IllegalArgumentException(option + " must be a port from 0 to 65535 (0 picks a free one), was " + value);
        }
        return Integer.parseInt(value);
    }

    /**
     * The names in an {@value #ALLOWED_HOSTS} value: host names or IP addresses separated by commas.
     *
     * @throws IllegalArgumentException naming the option and the entry that is not one
     */
    private static List<String> allowedHosts(String value) {
        List<String> names = new ArrayList<>();
        for (String entry : value.split(",", -1)) {
            if (entry.isBlank()) {
                throw new IllegalArgumentException(ALLOWED_HOSTS + " takes host names or IP addresses separated by commas,"
                        + " e.g. accounts.internal,192.168.1.5; '" + value + "' has an empty one");
            }
            names.add(entry.strip());
        }
        try {
            AllowedHosts.loopback().and(names.toArray(String[]::new));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(ALLOWED_HOSTS + ": " + e.getMessage(), e);
        }
        return names;
    }

    private static Duration seconds(String option, String value) {
        if (!value.matches("[0-9]{1,9}") || Integer.parseInt(value) == 0) {
            throw new IllegalArgumentException(option + " must be a whole number of seconds above 0, was " + value);
        }
        return Duration.ofSeconds(Integer.parseInt(value));
    }

    private static void await(CountDownLatch stop) throws InterruptedException {
        System.out.println("Ctrl-C stops it.");
        stop.await();
    }

    static Map<String, String> parse(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (FLAGS.contains(arg)) {
                options.put(arg, "true");
            } else if (OPTIONS.contains(arg)) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                options.put(arg, args[++i]);
            } else {
                throw new IllegalArgumentException("unknown argument: " + arg);
            }
        }
        return options;
    }
}
