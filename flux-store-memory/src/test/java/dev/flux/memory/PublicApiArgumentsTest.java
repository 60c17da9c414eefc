package dev.flux.memory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flux.Aggregate;
import dev.flux.AppendListeners;
import dev.flux.EventAppender;
import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.ForwardingEventStore;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
import dev.flux.bus.Bus;
import dev.flux.bus.EventContext;
import dev.flux.bus.Query;
import dev.flux.projection.Projector;
import dev.flux.serialization.EventSerializer;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.serialization.Upcasted;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotPolicy;
import dev.flux.snapshot.SnapshotStore;
import dev.flux.subscription.EventHandler;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.FailureHandler;
import dev.flux.subscription.OffsetStore;
import dev.flux.subscription.RecordedHandler;
import dev.flux.subscription.Subscription;
import dev.flux.test.AggregateFixture;
import dev.flux.test.ArgumentSweep;
import dev.flux.test.OneEventPerReadStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every public constructor and method of flux-core (but its feed package, which
 * {@link FeedPublicApiArgumentsTest} sweeps), flux-store-memory and flux-test's helpers refuses a null,
 * a blank string, a negative number, an empty list and a null element at once, with an
 * {@link IllegalArgumentException} naming the parameter, and leaves its receiver as it was; see
 * {@link ArgumentSweep}. The tables below give each parameter a valid value, each class a receiver,
 * and each bad value a documented method accepts its reason.
 */
@Timeout(60)
class PublicApiArgumentsTest {
    /** An aggregate of category {@code Sample} with one handler. */
    static final class Sample extends Aggregate {
        private int count;

        void sample() {
            update(new Sampled(1));
        }

        private void handleSampled(Sampled e) {
            count += e.n();
        }
    }

    record Sampled(int n) {
    }

    record Asked(String question) implements Query<String> {
    }

    private static final byte[] BODY = "{\"n\":1}".getBytes(StandardCharsets.UTF_8);

    @Test
    void everyPublicMemberRefusesBadArgumentsAtOnceNamingTheParameter() {
        List<Class<?>> api = new ArrayList<>();
        ArgumentSweep.publicClassesBeside(Aggregate.class, "dev.flux.").stream()
                .filter(c -> !c.getPackageName().equals("dev.flux.feed"))   // FeedPublicApiArgumentsTest sweeps it
                .forEach(api::add);
        api.addAll(ArgumentSweep.publicClassesBeside(InMemoryEventStore.class, "dev.flux.memory."));
        api.addAll(ArgumentSweep.publicClassesBeside(AggregateFixture.class, "dev.flux.test."));
        assertTrue(api.contains(Repository.class) && api.contains(Subscription.Builder.class)
                && api.contains(InMemoryEventStore.class) && api.contains(AggregateFixture.Outcome.class), api.toString());

        ArgumentSweep sweep = samples(ArgumentSweep.of(api));
        sweep.assertNoProblems(301);
    }

    private static ArgumentSweep samples(ArgumentSweep sweep) {
        EventData data = EventData.of("Sampled", BODY, Map.of());
        Function<EventReader, Object> log = store -> store.readAll(0, 100);
        return sweep
                .sample(String.class, () -> "sample")
                .sample("streamId", String.class, () -> "Sample-1")
                .sample("category", String.class, () -> "Sample")
                .sample("id", String.class, () -> "1")
                .sample("type", String.class, () -> "Sampled")
                .sample("what", String.class, () -> "sample text")
                .sample("expectedVersion", long.class, () -> ExpectedVersion.ANY)
                .sample("cursor", long.class, () -> 0L)
                .sample("member", int.class, () -> 0)
                .sample("aggregateClass", Class.class, () -> Sample.class)
                .sample("eventClass", Class.class, () -> Sampled.class)
                .sample("commandClass", Class.class, () -> Sampled.class)
                .sample("queryClass", Class.class, () -> Asked.class)
                .sample("type", Class.class, () -> IllegalStateException.class)
                .sample("eventClasses", Class[].class, () -> new Class<?>[] {Sampled.class})
                .sample(Object[].class, () -> new Object[] {new Sampled(1)})
                .sample("event", Object.class, () -> new Sampled(1))
                .sample("command", Object.class, () -> new Sampled(1))
                .sample("initial", Object.class, () -> 0L)
                .sample("state", Object.class, () -> 0L)
                .sample("owner", Object.class, () -> "event 1")
                .sample(Query.class, () -> new Asked("?"))
                .sample(Aggregate.class, () -> Repository.of(Sample.class, new InMemoryEventStore()).load("1"))
                .sample(EventStore.class, InMemoryEventStore::new)
                .sample(EventReader.class, InMemoryEventStore::new)
                .sample(EventSource.class, () -> EventSource.all(new InMemoryEventStore()))
                .sample(OffsetStore.class, InMemoryOffsetStore::new)
                .sample(SnapshotStore.class, InMemorySnapshotStore::new)
                .sample(SnapshotPolicy.class, SnapshotPolicy::never)
                .sample(Snapshot.class, () -> new Snapshot("Sample-1", 0, "Sample#1", BODY, Instant.now()))
                .sample(EventTypes.class, () -> EventTypes.of(Sampled.class))
                .sample(EventSerializer.class, () -> new JacksonEventSerializer(EventTypes.of(Sampled.class)))
                .sample(ObjectMapper.class, JacksonEventSerializer::defaultObjectMapper)
                .sample(ObjectNode.class, JsonNodeFactory.instance::objectNode)
                .sample(Bus.class, Bus::new)
                .sample(EventContext.class, () -> new EventContext(UUID.randomUUID(), Map.of()))
                .sample(EventData.class, () -> data)
                .sample(List.class, () -> List.of(EventData.of("Sampled", BODY, Map.of())))
                .sample(Map.class, () -> Map.of("key", "value"))
                .sample(RecordedEvent.class, () -> RecordedEvent.of("Sample-1", 0, 1, data, Instant.now()))
                .sample(UUID.class, UUID::randomUUID)
                .sample(byte[].class, () -> BODY)
                .sample(Instant.class, Instant::now)
                .sample(Duration.class, () -> Duration.ofSeconds(1))
                .sample(Runnable.class, () -> () -> { })
                .sample(Executor.class, () -> Runnable::run)
                .sample(Consumer.class, () -> x -> { })
                .sample(Function.class, () -> x -> x)
                .sample(UnaryOperator.class, () -> x -> x)
                .sample("upcaster", Function.class, () -> (Function<ObjectNode, Upcasted>) json -> new Upcasted("Sampled", json))
                .sample(BiConsumer.class, () -> (event, context) -> { })
                .sample(BiFunction.class, () -> (state, event) -> state)
                .sample(EventHandler.class, () -> (event, recorded) -> { })
                .sample(RecordedHandler.class, () -> recorded -> { })
                .sample(FailureHandler.class, FailureHandler::stop)
                .sample(Class.class, () -> Sampled.class)
                .sample(Supplier.class, () -> () -> "sample")
                .sample(Collection.class, () -> List.of(Sampled.class))
                .sample(String[].class, () -> new String[] {"word"})
                .sample("packagePrefix", String.class, () -> "dev.flux.memory.")

                .receiver(Aggregate.class, () -> Repository.of(Sample.class, new InMemoryEventStore()).load("1"),
                        aggregate -> aggregate.uncommittedEvents().size() + "@" + aggregate.version())
                .receiver(Repository.class, () -> Repository.of(Sample.class, new InMemoryEventStore()),
                        repository -> log.apply(repository.store()))
                .receiver(Repository.Builder.class, () -> Repository.builder(Sample.class, new InMemoryEventStore()))
                .receiver(AppendListeners.class, AppendListeners::new)
                .receiver(Bus.class, Bus::new)
                .receiver(Projector.class, () -> Projector.from(0L).on(Sampled.class, (total, e) -> total + e.n()))
                .receiver(EventTypes.class, () -> EventTypes.of(Sampled.class), EventTypes::names)
                .receiver(JacksonEventSerializer.class, () -> new JacksonEventSerializer(EventTypes.of(Sampled.class)))
                .receiver(EventSerializer.class, () -> new JacksonEventSerializer(EventTypes.of(Sampled.class)))
                .receiver(Subscription.class, () -> Subscription.builder(EventSource.all(new InMemoryEventStore()))
                        .onRecorded(recorded -> { }).build(), Subscription::state)
                .receiver(Subscription.Builder.class, () -> Subscription.builder(EventSource.all(new InMemoryEventStore())))
                .receiver(EventSource.class, () -> EventSource.all(new InMemoryEventStore()))
                .receiver(EventSource.class, () -> EventSource.category(new InMemoryEventStore(), "Sample"))
                .receiver(EventSource.class, () -> EventSource.stream(new InMemoryEventStore(), "Sample-1"))
                .defaultsOf(EventSource.class, NoSource::new)
                .receiver(EventStore.class, InMemoryEventStore::new, log::apply)
                .receiver(EventReader.class, InMemoryEventStore::new)
                .defaultsOf(EventReader.class, NoEvents::new)
                .receiver(EventAppender.class, InMemoryEventStore::new, store -> log.apply((EventReader) store))
                .receiver(InMemoryEventStore.class, InMemoryEventStore::new, log::apply)
                .receiver(ForwardingEventStore.class, () -> new ForwardingEventStore(new InMemoryEventStore()) { }, log::apply)
                .receiver(OneEventPerReadStore.class, () -> new OneEventPerReadStore(new InMemoryEventStore()), log::apply)
                .receiver(OffsetStore.class, InMemoryOffsetStore::new, offsets -> offsets.find("sample"))
                .defaultsOf(OffsetStore.class, NoOffsets::new)
                .receiver(InMemoryOffsetStore.class, InMemoryOffsetStore::new, offsets -> offsets.find("sample"))
                .receiver(SnapshotStore.class, InMemorySnapshotStore::new, snapshots -> snapshots.load("Sample-1"))
                .receiver(InMemorySnapshotStore.class, InMemorySnapshotStore::new, snapshots -> snapshots.load("Sample-1"))
                .receiver(AggregateFixture.class, () -> AggregateFixture.of(Sample.class))
                .receiver(AggregateFixture.Outcome.class, () -> AggregateFixture.of(Sample.class).when(Sample::sample))
                .receiver(ArgumentSweep.class, () -> ArgumentSweep.of(List.of(Sampled.class)))
                .callback(EventHandler.class)
                .callback(RecordedHandler.class)
                .callback(FailureHandler.class)
                .callback(SnapshotPolicy.class)
                .callback(AppendListeners.StreamListener.class)

                .allow("null:EventData(metadata)", "null metadata is none, as its Javadoc says")
                .allow("null:EventData.of(metadata)", "null metadata is none")
                .allow("null:RecordedEvent(metadata)", "null metadata is none")
                .allow("null:Aggregate.update(metadata)", "null metadata is none")
                .allow("null:EventSerializer.serialize(metadata)", "null metadata is none")
                .allow("null:JacksonEventSerializer.serialize(metadata)", "null metadata is none")
                .allow("null:Utf8.requireEncodable(owner)", "null: no owner in the message")
                .allow("blank:Utf8.requireEncodable(text)", "blank text is valid Unicode: it checks only that")
                .allow("blank:Utf8.requireEncodable(what)", "only a label for the message")
                .allow("negative:ExpectedVersion.matches(expectedVersion)", "a predicate: a version below ANY matches nothing")
                .allow("negative:ExpectedVersion.matches(actualVersion)", "a predicate: a version below NO_STREAM matches"
                        + " only ANY")
                .alias("afterPosition", "position")
                .alias("fromVersion", "version")
                .alias("after", "position")
                .alias("initial", "errorDelay")                 // errorDelay(initial, max): the option's name
                .alias("events", "checkpointEvery");            // checkpointEvery(events)
    }

    /** An event source of the test's own, only to reach the interface's default methods. */
    private static final class NoSource implements EventSource {
        @Override
        public List<RecordedEvent> read(long after, int maxCount) {
            return List.of();
        }

        @Override
        public long cursorOf(RecordedEvent event) {
            return event.position();
        }

        @Override
        public long end() {
            return 0;
        }
    }

    /** An event reader of the test's own, only to reach the interface's default methods. */
    private static final class NoEvents implements EventReader {
        @Override
        public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
            return List.of();
        }

        @Override
        public long streamVersion(String streamId) {
            return ExpectedVersion.NO_STREAM;
        }

        @Override
        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
            return List.of();
        }

        @Override
        public Optional<RecordedEvent> readEvent(UUID eventId) {
            return Optional.empty();
        }
    }

    /** An offset store of the test's own, only to reach {@link OffsetStore#find}'s default. */
    private static final class NoOffsets implements OffsetStore {
        @Override
        public long load(String name) {
            OffsetStore.requireValid(name, 0);
            return 0;
        }

        @Override
        public void save(String name, long position) {
        }

        @Override
        public void delete(String name) {
        }
    }
}
