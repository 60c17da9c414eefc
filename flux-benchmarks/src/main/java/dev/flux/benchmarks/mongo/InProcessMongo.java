package dev.flux.benchmarks.mongo;

import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import dev.flux.EventData;
import org.bson.BsonArray;
import org.bson.BsonBinary;
import org.bson.BsonDateTime;
import org.bson.BsonDocument;
import org.bson.BsonInt64;
import org.bson.BsonString;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The in-process mongo-java-server (memory backend) on a free loopback port, with one client, and
 * the documents both flux and the raw-driver baselines write. Its speed is not MongoDB's (its
 * indexes serve equality only: a sort or range is a scan), so only ratios measured in the same run
 * mean anything.
 */
final class InProcessMongo implements AutoCloseable {
    /** A 193-byte JSON event body, as in PLATFORM.md's hot-path figures. */
    static final byte[] BODY = ("{\"accountId\":\"6a1f0c1e-6a3b-4c53-9a55-0b6b3a2f9e11\",\"amount\":12500,"
            + "\"currency\":\"EUR\",\"reference\":\"invoice 2024-0001 / order 77812\",\"booked\":\"2024-05-01T10:15:30Z\"}")
            .getBytes(StandardCharsets.UTF_8);
    static final Map<String, String> METADATA = Map.of("correlation_id", "5e0b7f3c-3b1d-4a8e-8f6e-1c2d3e4f5a6b");

    private final MongoServer server = new MongoServer(new MemoryBackend());
    private final MongoClient client;

    InProcessMongo() {
        client = MongoClients.create(server.bindAndGetConnectionString());
    }

    MongoDatabase database(String name) {
        return client.getDatabase(name);
    }

    static List<EventData> events(int count) {
        List<EventData> events = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            events.add(EventData.of("Deposited", BODY, METADATA));
        }
        return events;
    }

    /** The same document MongoEventStore writes for these events, for the raw-driver baseline. */
    static BsonDocument commit(String streamId, long firstVersion, long firstPosition, List<EventData> events) {
        BsonArray array = new BsonArray(new ArrayList<>(events.size()));
        for (EventData event : events) {
            BsonArray metadata = new BsonArray();
            event.metadata().forEach((k, v) -> metadata.add(new BsonArray(List.of(new BsonString(k), new BsonString(v)))));
            array.add(new BsonDocument("id", new BsonBinary(event.eventId()))
                    .append("type", new BsonString(event.type()))
                    .append("data", new BsonBinary(event.data()))
                    .append("metadata", metadata));
        }
        int n = events.size();
        return new BsonDocument("_id", new BsonInt64(firstPosition + n - 1))
                .append("firstPosition", new BsonInt64(firstPosition))
                .append("stream", new BsonString(streamId))
                .append("category", new BsonString("bench"))
                .append("firstVersion", new BsonInt64(firstVersion))
                .append("lastVersion", new BsonInt64(firstVersion + n - 1))
                .append("recordedAt", new BsonDateTime(System.currentTimeMillis()))
                .append("events", array);
    }

    @Override
    public void close() {
        client.close();
        server.shutdownNow();
    }
}
