package dev.flux.mongo;

import com.mongodb.ReadConcern;
import com.mongodb.WriteConcern;
import com.mongodb.client.MongoDatabase;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.snapshot.Snapshot;
import dev.flux.test.ArgumentSweep;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every public constructor and method of flux-store-mongo refuses a null, a blank string, a negative
 * number, an empty list and a null element at once, with an {@link IllegalArgumentException} naming
 * the parameter, before it touches the server, and leaves the store as it was; see {@link ArgumentSweep}.
 */
@Timeout(60)
class MongoPublicApiArgumentsTest {
    private static final byte[] BODY = "{\"n\":1}".getBytes(StandardCharsets.UTF_8);

    private final MongoTestServer server = MongoTestServer.inProcess();
    private final TestDatabase database = server.newDatabase();

    @AfterEach
    void dropDatabase() {
        database.close();
    }

    @Test
    void everyPublicMemberRefusesBadArgumentsAtOnceNamingTheParameter() {
        MongoDatabase db = database.database();
        MongoEventStore store = new MongoEventStore(db);
        MongoOffsetStore offsets = new MongoOffsetStore(db);
        MongoSnapshotStore snapshots = new MongoSnapshotStore(db);
        List<Class<?>> api = ArgumentSweep.publicClassesBeside(MongoEventStore.class, "dev.flux.mongo.");
        assertEquals(List.of(MongoEventStore.class, MongoOffsetStore.class, MongoOptions.class, MongoSnapshotStore.class),
                api);

        ArgumentSweep sweep = ArgumentSweep.of(api)
                .sample(String.class, () -> "sample")
                .sample("streamId", String.class, () -> "Sample-1")
                .sample("category", String.class, () -> "Sample")
                .sample("connectionString", String.class, server::connectionString)
                .sample("eventsCollection", String.class, () -> "sample_events")
                .sample("offsetsCollection", String.class, () -> "sample_offsets")
                .sample("snapshotsCollection", String.class, () -> "sample_snapshots")
                .sample("expectedVersion", long.class, () -> ExpectedVersion.ANY)
                .sample(MongoDatabase.class, () -> db)
                .sample(MongoOptions.class, MongoOptions::defaults)
                .sample(Duration.class, () -> Duration.ofSeconds(1))
                .sample(WriteConcern.class, () -> WriteConcern.MAJORITY)
                .sample(ReadConcern.class, () -> ReadConcern.MAJORITY)
                .sample(List.class, () -> List.of(EventData.of("Sampled", BODY, Map.of())))
                .sample(UUID.class, UUID::randomUUID)
                .sample(Runnable.class, () -> () -> { })
                .sample(Snapshot.class, () -> new Snapshot("Sample-1", 0, "Sample#1", BODY, Instant.now()))
                .receiver(MongoEventStore.class, () -> store, events -> events.readAll(0, 100))
                .receiver(MongoOffsetStore.class, () -> offsets, stored -> stored.find("sample"))
                .receiver(MongoSnapshotStore.class, () -> snapshots, stored -> stored.load("Sample-1"))
                .receiver(MongoOptions.class, MongoOptions::defaults)
                .alias("afterPosition", "position")
                .alias("fromVersion", "version");
        sweep.assertNoProblems(61);
    }
}
