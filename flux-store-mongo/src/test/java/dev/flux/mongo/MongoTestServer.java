package dev.flux.mongo;

import com.mongodb.ConnectionString;
import com.mongodb.MongoClientSettings;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

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

    /** A server given by connection string: a Testcontainers replica set, or {@code FLUX_MONGO_URI}. */
    static MongoTestServer at(String description, String connectionString) {
        return new MongoTestServer(description, connectionString);
    }

    /** Client settings for tests: a short server-selection wait so a dead server fails a test fast. */
    static MongoClientSettings settings(String connectionString) {
        return MongoClientSettings.builder()
                .applyConnectionString(new ConnectionString(connectionString))
                .applyToClusterSettings(cluster -> cluster.serverSelectionTimeout(5, TimeUnit.SECONDS))
                .applyToSocketSettings(socket -> socket.connectTimeout(2, TimeUnit.SECONDS))
                .build();
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
