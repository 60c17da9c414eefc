package dev.flux.benchmarks.mongo;

import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.IndexModel;
import com.mongodb.client.model.IndexOptions;
import com.mongodb.client.model.Indexes;
import com.mongodb.client.model.Projections;
import com.mongodb.client.model.Sorts;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.mongo.MongoEventStore;
import org.bson.BsonDocument;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Saves of 1 and 10 events through {@link MongoEventStore} against the raw driver writing the same
 * commit documents, into a collection with the same indexes, on the same in-process server: a bare
 * {@code insertOne}, and {@code insertOne} after the read of the stream's last commit that flux
 * would make per save if it did not remember the versions it appended. Each iteration starts from an empty database, so the in-process server's scans do not
 * grow across iterations. Saves go round-robin over 100 streams.
 *
 * <pre>java -jar flux-benchmarks/target/benchmarks.jar mongo -wi 2 -i 3 -f 1 -r 2s -w 1s</pre>
 */
@Fork(value = 1, jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-Dorg.slf4j.simpleLogger.log.de.bwaldvogel=error"})
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@State(Scope.Benchmark)
public class MongoAppendBenchmark {
    private static final int STREAMS = 100;

    @Param({"1", "10"})
    int eventsPerSave;

    private InProcessMongo mongo;
    private MongoDatabase database;
    private MongoEventStore store;
    private MongoCollection<BsonDocument> raw;
    private long[] versions;
    private long saves;
    private long nextPosition;
    private int iteration;

    @Setup(Level.Trial)
    public void startServer() {
        mongo = new InProcessMongo();
    }

    @Setup(Level.Iteration)
    public void emptyDatabase() {
        database = mongo.database("bench_append_" + iteration++);
        store = new MongoEventStore(database);
        raw = database.getCollection("raw_commits", BsonDocument.class);
        // The indexes MongoEventStore makes, so both sides pay the same index maintenance.
        raw.createIndexes(List.of(
                new IndexModel(Indexes.ascending("firstPosition"), new IndexOptions().unique(true)),
                new IndexModel(Indexes.ascending("stream", "firstVersion"), new IndexOptions().unique(true)),
                new IndexModel(Indexes.ascending("events.id"), new IndexOptions().unique(true)),
                new IndexModel(Indexes.ascending("category", "_id"))));
        versions = new long[STREAMS];
        Arrays.fill(versions, ExpectedVersion.NO_STREAM);
        saves = 0;
        nextPosition = 1;
    }

    @TearDown(Level.Iteration)
    public void dropDatabase() {
        store.close();
        database.drop();
    }

    @TearDown(Level.Trial)
    public void stopServer() {
        mongo.close();
    }

    /** A save through flux, at the expected version a repository would pass. */
    @Benchmark
    public long fluxAppend() {
        int stream = (int) (saves++ % STREAMS);
        long version = store.append("bench-" + stream, versions[stream], InProcessMongo.events(eventsPerSave));
        versions[stream] = version;
        return version;
    }

    /** The same commit document through the raw driver, no checks: the floor. */
    @Benchmark
    public BsonDocument rawInsertOne() {
        int stream = (int) (saves++ % STREAMS);
        return insertRaw(stream);
    }

    /** The raw driver doing flux's round trips: read the stream's last commit, then insert. */
    @Benchmark
    public BsonDocument rawFindHeadThenInsertOne() {
        int stream = (int) (saves++ % STREAMS);
        BsonDocument head = raw.find(Filters.eq("stream", "bench-" + stream))
                .projection(Projections.include("lastVersion"))
                .sort(Sorts.descending("firstVersion")).limit(1).first();
        if (head != null && head.getInt64("lastVersion").getValue() != versions[stream]) {
            throw new IllegalStateException("unexpected head " + head);
        }
        return insertRaw(stream);
    }

    private BsonDocument insertRaw(int stream) {
        List<EventData> events = InProcessMongo.events(eventsPerSave);
        BsonDocument commit = InProcessMongo.commit("bench-" + stream, versions[stream] + 1, nextPosition, events);
        raw.insertOne(commit);
        nextPosition += eventsPerSave;
        versions[stream] += eventsPerSave;
        return commit;
    }
}
