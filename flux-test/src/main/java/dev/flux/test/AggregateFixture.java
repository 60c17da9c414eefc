package dev.flux.test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flux.Aggregate;
import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
import dev.flux.StreamName;
import dev.flux.serialization.EventSerializer;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Given / when / then for an aggregate's own tests: given past events, when a command runs, expect
 * the events it applied or the exception it threw.
 *
 * <pre>{@code
 * AggregateFixture.of(Account.class)
 *         .given(new AccountOpened("ana"), new AccountCredited(100))
 *         .when(account -> account.debit(30))
 *         .expectEvents(new AccountDebited(30));
 * }</pre>
 *
 * The given events are serialized and replayed through a real {@link Repository}, and the new events
 * are saved through it, so an event that does not survive JSON fails the test too: a given event, or
 * one the command applied, that reads back unequal to itself (a {@code transient} field, a field
 * Jackson cannot see) fails {@link #when}, naming it as written and as read back. Events are equal
 * when their class's {@code equals} says so or, for classes that keep {@code Object}'s {@code equals},
 * when they are of one class and their JSON is; a failure shows them by {@code toString}, or by class
 * and JSON for classes without one. The aggregate's id is {@code "test"} unless {@link #withId} sets
 * another. Not thread-safe; use one fixture per test.
 */
public final class AggregateFixture<A extends Aggregate> {
    private final Repository<A> repository;
    private final ObjectMapper mapper = JacksonEventSerializer.defaultObjectMapper();
    private String id;
    private final List<Object> given = new ArrayList<>();

    private AggregateFixture(Class<A> aggregateClass, EventSerializer serializer, String id) {
        this.repository = Repository.builder(aggregateClass, new OneStreamStore()).serializer(serializer).build();
        this.id = id;
    }

    /**
     * A fixture for {@code aggregateClass}, with the default serializer and the id {@code "test"}.
     *
     * @throws IllegalArgumentException when the class is null or a {@link Repository} refuses it
     */
    public static <A extends Aggregate> AggregateFixture<A> of(Class<A> aggregateClass) {
        return new AggregateFixture<>(aggregateClass, new JacksonEventSerializer(new EventTypes()), "test");
    }

    /**
     * A fixture for {@code aggregateClass} with the application's serializer (its upcasters, its mapper).
     *
     * @throws IllegalArgumentException when either is null or a {@link Repository} refuses the class
     */
    public static <A extends Aggregate> AggregateFixture<A> of(Class<A> aggregateClass, EventSerializer serializer) {
        return new AggregateFixture<>(aggregateClass, serializer, "test");
    }

    /**
     * Sets the id of the aggregate the fixture loads (its stream is {@code <Category>-<id>}), for a
     * command or handler that uses {@link Aggregate#id()}; the default is {@code "test"}.
     *
     * @throws IllegalArgumentException when the id is null or blank, or makes no valid stream id
     */
    public AggregateFixture<A> withId(String id) {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("id of the fixture's aggregate must not be null or blank, was "
                    + (id == null ? "null" : "'" + id + "'"));
        }
        StreamName.requireStreamId(repository.streamId(id));
        this.id = id;
        return this;
    }

    /**
     * Past events of the aggregate, in order; none means a new aggregate.
     *
     * @throws IllegalArgumentException when the array or an event in it is null; none is added then
     */
    public AggregateFixture<A> given(Object... events) {
        requireNoNull(events, "given events");
        given.addAll(List.of(events));
        return this;
    }

    /**
     * Replays the given events, runs {@code command} on the aggregate and saves what it applied.
     *
     * @throws IllegalArgumentException when the command is null
     */
    public Outcome<A> when(Consumer<? super A> command) {
        if (command == null) {
            throw new IllegalArgumentException("command must not be null");
        }
        OneStreamStore store = (OneStreamStore) repository.store();
        store.reset();
        String streamId = repository.streamId(id);
        if (!given.isEmpty()) {
            List<EventData> history = new ArrayList<>();
            for (Object event : given) {
                history.add(repository.serializer().serialize(event, Map.of()));
            }
            store.append(streamId, ExpectedVersion.NO_STREAM, history);
            List<Object> readBack = new ArrayList<>();
            for (RecordedEvent recorded : store.readStream(streamId, 0, Integer.MAX_VALUE)) {
                readBack.add(repository.serializer().deserialize(recorded));
            }
            assertEventsEqual(given, readBack, "the given events as written and as read back from JSON (an event that"
                    + " does not survive JSON: a transient field, a field Jackson cannot see or set)");
        }
        A aggregate = repository.load(id);
        try {
            command.accept(aggregate);
        } catch (RuntimeException | AssertionError thrown) {
            return new Outcome<>(this, aggregate, List.of(), List.of(), thrown);
        }
        List<Object> applied = List.copyOf(aggregate.uncommittedEvents());
        aggregate.save();
        List<RecordedEvent> recorded = store.readStream(streamId, given.size(), Integer.MAX_VALUE);
        List<Object> saved = new ArrayList<>();
        for (RecordedEvent event : recorded) {
            saved.add(repository.serializer().deserialize(event));
        }
        assertEventsEqual(applied, saved, "the events as applied and as read back after saving (an event that does not"
                + " survive JSON: a transient field, a field Jackson cannot see or set)");
        return new Outcome<>(this, aggregate, saved, List.copyOf(recorded), null);
    }

    /** Refuses a null array or element, naming the element's index. */
    private static void requireNoNull(Object[] events, String what) {
        if (events == null) {
            throw new IllegalArgumentException(what + " must not be null");
        }
        for (int i = 0; i < events.length; i++) {
            if (events[i] == null) {
                throw new IllegalArgumentException(what + "[" + i + "] must not be null");
            }
        }
    }

    private void assertEventsEqual(List<?> expected, List<?> actual, String what) {
        boolean same = expected.size() == actual.size();
        for (int i = 0; same && i < expected.size(); i++) {
            same = sameEvent(expected.get(i), actual.get(i));
        }
        if (!same) {
            fail(what + " differ:\n expected: " + describe(expected) + "\n   actual: " + describe(actual));
        }
    }

    /**
     * The events as a failure shows them: by their {@code toString}, or, for classes that keep
     * {@code Object}'s (which says only class and hash), by class and JSON, as they are compared.
     */
    private String describe(List<?> events) {
        List<String> described = new ArrayList<>(events.size());
        for (Object event : events) {
            String text = String.valueOf(event);
            if (!hasOwnToString(event.getClass())) {
                try {
                    text = event.getClass().getSimpleName() + json(event);
                } catch (RuntimeException notJson) {
                    // an expected object Jackson cannot write: Object's toString is all there is
                }
            }
            described.add(text);
        }
        return described.toString();
    }

    private static boolean hasOwnToString(Class<?> type) {
        try {
            return type.getMethod("toString").getDeclaringClass() != Object.class;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    private boolean sameEvent(Object expected, Object actual) {
        if (expected.equals(actual)) {
            return true;
        }
        return !hasOwnEquals(expected.getClass()) && expected.getClass() == actual.getClass()
                && json(expected).equals(json(actual));
    }

    private static boolean hasOwnEquals(Class<?> type) {
        try {
            return type.getMethod("equals", Object.class).getDeclaringClass() != Object.class;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    private JsonNode json(Object event) {
        try {
            return mapper.readTree(mapper.writeValueAsBytes(event));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What a command did: the events it saved, or what it threw. */
    public static final class Outcome<A extends Aggregate> {
        private final AggregateFixture<A> fixture;
        private final A aggregate;
        private final List<Object> events;
        private final List<RecordedEvent> recorded;
        private final Throwable thrown;

        private Outcome(AggregateFixture<A> fixture, A aggregate, List<Object> events, List<RecordedEvent> recorded,
                        Throwable thrown) {
            this.fixture = fixture;
            this.aggregate = aggregate;
            this.events = events;
            this.recorded = recorded;
            this.thrown = thrown;
        }

        /**
         * The events the command saved as the store recorded them, in order: for checks {@code expectEvents}
         * does not make, on the metadata {@code update(event, metadata)} gave (with the schema version the
         * serializer adds, see {@code Metadata}), the type names or the versions. Fails when the command threw.
         */
        public List<RecordedEvent> recordedEvents() {
            requireNoException();
            return recorded;
        }

        /**
         * Fails unless the command applied exactly these events, in this order.
         *
         * @throws IllegalArgumentException when the array or an event in it is null
         */
        public Outcome<A> expectEvents(Object... expected) {
            requireNoNull(expected, "expected events");
            requireNoException();
            fixture.assertEventsEqual(List.of(expected), events, "the events the command applied");
            return this;
        }

        /** Fails unless the command applied no event. */
        public Outcome<A> expectNoEvents() {
            return expectEvents();
        }

        /**
         * Fails unless the command threw {@code type}; returns the exception for further checks. When it
         * threw another, that one is the failure's cause, with its stack trace.
         *
         * @throws IllegalArgumentException when the type is null
         */
        public <X extends Throwable> X expectException(Class<X> type) {
            if (type == null) {
                throw new IllegalArgumentException("type of the expected exception must not be null");
            }
            if (thrown == null) {
                fail("expected " + type.getName() + " but the command applied " + fixture.describe(events));
            }
            if (!type.isInstance(thrown)) {
                fail("expected " + type.getName() + " but the command threw " + thrown, thrown);
            }
            return type.cast(thrown);
        }

        /**
         * Runs {@code check} on the aggregate after the command (its state, its version).
         *
         * @throws IllegalArgumentException when the check is null
         */
        public Outcome<A> expectState(Consumer<? super A> check) {
            if (check == null) {
                throw new IllegalArgumentException("check must not be null");
            }
            requireNoException();
            check.accept(aggregate);
            return this;
        }

        private void requireNoException() {
            if (thrown != null) {
                fail("the command threw " + thrown, thrown);
            }
        }
    }

    /** The fixture's store: one stream at a time, just enough for a repository to load and save. */
    private static final class OneStreamStore implements EventStore {
        private final List<RecordedEvent> events = new ArrayList<>();

        void reset() {
            events.clear();
        }

        @Override
        public long append(String streamId, long expectedVersion, List<EventData> batch) {
            EventData.requireBatch(StreamName.requireStreamId(streamId), batch);
            ExpectedVersion.check(streamId, expectedVersion, events.size() - 1L);
            for (EventData event : batch) {
                events.add(RecordedEvent.of(streamId, events.size(), events.size() + 1L, event, Instant.now()));
            }
            return events.size() - 1L;
        }

        @Override
        public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
            int from = (int) Math.min(fromVersion, events.size());
            return List.copyOf(events.subList(from, (int) Math.min(events.size(), (long) from + maxCount)));
        }

        @Override
        public long streamVersion(String streamId) {
            return events.size() - 1L;
        }

        @Override
        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
            return readStream("", afterPosition, maxCount);
        }

        @Override
        public Optional<RecordedEvent> readEvent(UUID eventId) {
            return events.stream().filter(e -> e.eventId().equals(eventId)).findFirst();
        }

        @Override
        public void close() {
            events.clear();
        }
    }
}
