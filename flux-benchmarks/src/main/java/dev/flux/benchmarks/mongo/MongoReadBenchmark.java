package dev.flux.benchmarks.mongo;

import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.Sorts;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.mongo.MongoEventStore;
import org.bson.BsonDocument;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Reading the global log in pages of 1,000 events through {@link MongoEventStore#readAll} against a
 * raw driver {@code find} of the same commit documents (100 of 10 events per page) on the same
 * in-process server. The log holds 10,000 events; pages start at rotating positions. One
 * operation is one page.
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
public class MongoReadBenchmark {
    static final int EVENTS = 10_000;
    static final int PAGE = 1_000;
    static final int EVENTS_PER_COMMIT = 10;

    private InProcessMongo mongo;
    private MongoEventStore store;
    private MongoCollection<BsonDocument> commits;
    private long page;

    @Setup(Level.Trial)
    public void fill() {
        mongo = new InProcessMongo();
        MongoDatabase database = mongo.database("bench_read");
        store = new MongoEventStore(database);
        for (int i = 0; i < EVENTS / EVENTS_PER_COMMIT; i++) {
            store.append("bench-" + (i % 100), ExpectedVersion.ANY, InProcessMongo.events(EVENTS_PER_COMMIT));
        }
        commits = database.getCollection("flux_events", BsonDocument.class);
    }

    @TearDown(Level.Trial)
    public void stop() {
        store.close();
        mongo.close();
    }

    private long nextAfter() {
        return (page++ % (EVENTS / PAGE)) * PAGE;
    }

    /** One page of the global log as {@link RecordedEvent}s. */
    @Benchmark
    public List<RecordedEvent> fluxReadAll() {
        List<RecordedEvent> events = store.readAll(nextAfter(), PAGE);
        if (events.size() != PAGE) {
            throw new IllegalStateException("short page: " + events.size());
        }
        return events;
    }

    /** The same documents through the raw driver, left as BSON. */
    @Benchmark
    public List<BsonDocument> rawFind() {
        return commits.find(Filters.gt("_id", nextAfter())).sort(Sorts.ascending("_id"))
                .limit(PAGE / EVENTS_PER_COMMIT).into(new ArrayList<>(PAGE / EVENTS_PER_COMMIT));
    }
}
