package dev.flux.mongo;

import com.mongodb.ConnectionString;
import com.mongodb.MongoClientSettings;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import org.testcontainers.mongodb.MongoDBContainer;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A MongoDB server the tests run against, with one client shared by them. Each test takes a fresh
 * database from {@link #newDatabase()}. Which server is used is printed once, so a run says what it
 * tested.
 */
final class MongoTestServer {
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static MongoTestServer inProcess;
    private static MongoTestServer container;
    private static MongoTestServer fromEnvironment;

    private final String description;
    private final String connectionString;
    private final MongoClient client;

    private MongoTestServer(String description, String connectionString) {
        this.description = description;
        this.connectionString = connectionString;
        this.client = MongoClients.create(settings(connectionString));
        System.out.println("flux-store-mongo tests run against " + description + " at " + redacted(connectionString));
    }

    /** The in-process mongo-java-server (memory backend) on a free loopback port, started once per JVM. */
    static synchronized MongoTestServer inProcess() {
        if (inProcess == null) {
            MongoServer server = new MongoServer(new MemoryBackend());
            String uri = server.bindAndGetConnectionString();
            Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "mongo-java-server-shutdown"));
            inProcess = new MongoTestServer("the in-process mongo-java-server (memory backend)", uri);
        }
        return inProcess;
    }

    /**
     * A one-node MongoDB 7.0 replica set in Docker, started once per JVM (Testcontainers stops it when
     * the JVM exits). Only called by test classes marked {@code @Testcontainers(disabledWithoutDocker = true)}.
     */
    static synchronized MongoTestServer container() {
        if (container == null) {
            MongoDBContainer mongo = new MongoDBContainer("mongo:7.0").withReplicaSet();
            mongo.start();
            container = new MongoTestServer("a MongoDB 7.0 replica set in Docker (Testcontainers)", mongo.getReplicaSetUrl());
        }
        return container;
    }

    /**
     * The server the environment variable {@code FLUX_MONGO_URI} names. Tests make databases named
     * {@code flux_test_<pid>_<n>} there and drop them afterwards.
     */
    static synchronized MongoTestServer fromEnvironment() {
        if (fromEnvironment == null) {
            fromEnvironment = new MongoTestServer("the server FLUX_MONGO_URI names", System.getenv(URI_VARIABLE));
        }
        return fromEnvironment;
    }

    /** The environment variable naming a server to test against as well. */
    static final String URI_VARIABLE = "FLUX_MONGO_URI";

    /**
     * Client settings for tests: unless the connection string says otherwise, a short server-selection
     * wait so a dead server fails a test fast.
     */
    static MongoClientSettings settings(String connectionString) {
        ConnectionString parsed = new ConnectionString(connectionString);
        MongoClientSettings.Builder settings = MongoClientSettings.builder().applyConnectionString(parsed);
        if (parsed.getServerSelectionTimeout() == null) {
            settings.applyToClusterSettings(cluster -> cluster.serverSelectionTimeout(5, TimeUnit.SECONDS));
        }
        if (parsed.getConnectTimeout() == null) {
            settings.applyToSocketSettings(socket -> socket.connectTimeout(2, TimeUnit.SECONDS));
        }
        return settings.build();
    }

    /** A database no other test uses, dropped when closed. */
    TestDatabase newDatabase() {
        return new TestDatabase(client.getDatabase("flux_test_" + ProcessHandle.current().pid() + "_"
                + DATABASES.incrementAndGet()));
    }

    String connectionString() {
        return connectionString;
    }

    MongoClient client() {
        return client;
    }

    @Override
    public String toString() {
        return description;
    }

    private static String redacted(String uri) {
        return uri.replaceAll("//[^@/]*@", "//***@");
    }
}
