package dev.flux;

import dev.flux.bus.Bus;
import dev.flux.bus.EventContext;
import dev.flux.serialization.EventSerializer;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.snapshot.SnapshotPolicy;
import dev.flux.snapshot.SnapshotStore;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Loads and saves aggregates of one class in an {@link EventStore}. The aggregate with id {@code 42}
 * lives in the stream {@code <category>-42}; the category defaults to the class's simple name.
 *
 * <pre>{@code
 * Repository<Account> accounts = Repository.of(Account.class, store);
 * Account account = accounts.load("42");      // replays stream "Account-42"; version -1 if new
 * account.credit(100);
 * account.save();                             // ConcurrencyConflictException if someone saved first
 * accounts.update("42", a -> a.credit(5));    // load, act, save; retried on conflict
 * }</pre>
 *
 * <p>The event classes the aggregate's handlers take are registered in the serializer's
 * {@link EventTypes} when the repository is built. A repository is immutable and thread-safe; the
 * aggregates it returns are not (one per unit of work).
 */
public final class Repository<A extends Aggregate> {
    /** How many attempts {@link #update} makes by default before it gives up with a conflict. */
    public static final int DEFAULT_MAX_ATTEMPTS = 50;
    private static final int PAGE_SIZE = 1_000;

    private final Class<A> aggregateClass;
    private final EventStore store;
    private final MethodHandle constructor;
    private final String category;
    private final EventSerializer serializer;
    private final int maxAttempts;
    private final AggregateSnapshots snapshots;
    private final Bus bus;

    private Repository(Builder<A> builder) {
        if (builder.category.isEmpty()) {
            throw new IllegalArgumentException(builder.aggregateClass.getName() + " is an anonymous class, which has no"
                    + " simple name to be the category of its streams (they would be '-<id>', in no category): name one"
                    + " with Repository.builder(...).category(name)");
        }
        this.aggregateClass = builder.aggregateClass;
        this.store = builder.store;
        this.constructor = noArgConstructor(aggregateClass);
        this.category = builder.category;
        this.serializer = builder.serializer != null ? builder.serializer
                : new JacksonEventSerializer(new EventTypes());
        this.maxAttempts = builder.maxAttempts;
        this.bus = builder.bus;
        registerEventClasses(aggregateClass, serializer.eventTypes());
        this.snapshots = builder.snapshotStore == null ? null : new AggregateSnapshots(aggregateClass, builder.snapshotStore,
                builder.snapshotPolicy, serializer instanceof JacksonEventSerializer jackson
                        ? jackson.objectMapper() : JacksonEventSerializer.defaultObjectMapper(),
                serializer.eventTypes(), Handlers.of(aggregateClass).eventClasses(), this::newAggregate);
    }

    /**
     * Registers the classes the handlers take, refusing a handler whose class cannot be decoded into, naming
     * it: every handler is checked before any class is registered.
     */
    private static void registerEventClasses(Class<?> aggregateClass, EventTypes types) {
        Handlers handlers = Handlers.of(aggregateClass);
        for (Class<?> eventClass : handlers.eventClasses()) {
            if (eventClass.isInterface() || Modifier.isAbstract(eventClass.getModifiers())) {
                throw new IllegalArgumentException("The " + describe(handlers, eventClass, aggregateClass) + " takes "
                        + (eventClass.isInterface() ? "an interface, " : "an abstract class, ") + eventClass.getName()
                        + ": a Repository decodes each recorded event into the class its handler takes, and dispatches"
                        + " by the event class's simple name, so a handler must take a concrete event class. Write one"
                        + " 'void handle<Event>(<Event> e)' per event class instead");
            }
        }
        for (Class<?> eventClass : handlers.eventClasses()) {
            try {
                types.nameOrRegister(eventClass);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("The " + describe(handlers, eventClass, aggregateClass) + " takes "
                        + eventClass.getName() + ", which the serializer's EventTypes refuses: " + e.getMessage(), e);
            }
        }
    }

    private static String describe(Handlers handlers, Class<?> eventClass, Class<?> aggregateClass) {
        return "handler " + handlers.describe(eventClass) + " of " + aggregateClass.getName();
    }

    /**
     * A repository with the defaults: category = the class's simple name, JSON through Jackson, up to
     * {@value #DEFAULT_MAX_ATTEMPTS} attempts in {@link #update}.
     *
     * @throws IllegalArgumentException when an argument is null, or the class has no no-argument
     *                                  constructor (an inner class, not declared static, has none) or is
     *                                  abstract or anonymous (no simple name for the category: use
     *                                  {@link #builder} and {@link Builder#category}), or a handler takes an
     *                                  interface or an abstract class, or one the serializer's
     *                                  {@link EventTypes} refuses (a name another class holds); the message
     *                                  names the handler
     */
    public static <A extends Aggregate> Repository<A> of(Class<A> aggregateClass, EventStore store) {
        return builder(aggregateClass, store).build();
    }

    /**
     * A builder to set the category, serializer, retry attempts, snapshots or bus; {@link Builder#build()}
     * checks the class as {@link #of} does.
     *
     * @throws IllegalArgumentException when an argument is null
     */
    public static <A extends Aggregate> Builder<A> builder(Class<A> aggregateClass, EventStore store) {
        return new Builder<>(aggregateClass, store);
    }

    /**
     * The aggregate with this id, rebuilt by replaying its stream through its handlers (with
     * {@link Builder#snapshots}, from its latest usable snapshot and the events after it); a new
     * aggregate at version -1 when the stream has no events.
     *
     * @throws IllegalArgumentException                         when the id is null or blank
     * @throws MissingHandlerException                          when a recorded event of a type the serializer's
     *                                                          {@code EventTypes} registers has no handler; the
     *                                                          message names the stream, version and type
     * @throws dev.flux.serialization.EventDecodingException    when a recorded event cannot be decoded, its type
     *                                                          not registered included
     * @throws FluxException                                    when a handler throws replaying a recorded event;
     *                                                          the message names the stream, version and type;
     *                                                          or when a handler or the aggregate's constructor
     *                                                          calls {@code update}; or when the store returns
     *                                                          the stream's events out of order or with a gap,
     *                                                          or another stream's, before that event is
     *                                                          replayed
     */
    public A load(String id) {
        return replay(id, Long.MAX_VALUE);
    }

    /**
     * The aggregate with this id as it was at {@code version}: its stream replayed up to and including the event
     * of that version (from the latest usable snapshot at or below it, with {@link Builder#snapshots}), so that
     * {@link Aggregate#version()} is {@code version}. For audits and support: what a command saw, what a state
     * was before a correction. Its events after that version are not read.
     *
     * <p>A save of it expects the stream still at {@code version}: once the stream has moved on, it throws
     * {@link ConcurrencyConflictException} and writes nothing, so an old state is never saved over a newer one.
     *
     * @throws IllegalArgumentException when the id is null or blank, the version is negative, or the stream has
     *                                  no event at that version (its last version is then in the message)
     * @throws RuntimeException         as {@link #load(String)} does, for the events up to that version
     */
    public A load(String id, long version) {
        if (version < 0) {
            throw new IllegalArgumentException("version must be >= 0 (the first event's), was " + version
                    + "; load(id) gives the aggregate at its latest version");
        }
        A aggregate = replay(id, version);
        if (aggregate.version() != version) {
            throw new IllegalArgumentException("Cannot load " + streamId(id) + " at version " + version + ": "
                    + (aggregate.version() == ExpectedVersion.NO_STREAM ? "the stream has no events"
                    : "its last version is " + aggregate.version()));
        }
        return aggregate;
    }

    /** The aggregate with its stream replayed up to {@code last}, or to its end when that comes first. */
    private A replay(String id, long last) {
        String streamId = streamId(id);
        A aggregate = newAggregate();
        aggregate.bind(this, id);
        long next = snapshots == null ? 0 : snapshots.restore(aggregate, streamId, store, last);
        while (next <= last) {
            List<RecordedEvent> page = store.readStream(streamId, next, last - next < PAGE_SIZE ? (int) (last - next + 1)
                    : PAGE_SIZE);
            if (page.isEmpty()) {
                break;
            }
            for (RecordedEvent recorded : page) {
                if (next > last) {
                    break;      // a reader that answered more than it was asked for: those events are after the version
                }
                if (recorded.version() != next || !recorded.streamId().equals(streamId)) {
                    throw outOfOrder(streamId, recorded, next);
                }
                Object event = serializer.deserialize(recorded);
                try {
                    aggregate.replay(event, recorded.version());
                } catch (MissingHandlerException e) {
                    throw new MissingHandlerException(e, recorded);
                } catch (RuntimeException e) {
                    throw replayFailed(recorded, e);
                }
                next++;
            }
        }
        if (aggregate.hasUncommittedEvents()) {
            throw updatedWhileReplaying(streamId, aggregate);
        }
        return aggregate;
    }

    /**
     * A reader that answered a stream's events out of order, with a gap, or another stream's: replayed, an event
     * would count twice (a reader ignoring the version asked for would even be read forever), the state miss one,
     * or take one of another aggregate (a reader matching ids case aside, say).
     */
    private FluxException outOfOrder(String streamId, RecordedEvent recorded, long due) {
        return new FluxException("Cannot load " + streamId + ": " + store + " returned " + recorded.type() + " "
                + recorded.streamId() + "@" + recorded.version() + " (id " + recorded.eventId() + ") where version " + due
                + " was due" + (recorded.streamId().equals(streamId) ? "" : " in " + streamId) + ". An EventReader must"
                + " return the events of the stream asked for, exactly that one, from the version asked for, in order"
                + " and without gaps: fix the reader");
    }

    /**
     * A handler that called {@code update}: on each load it would apply its event again and buffer it, and the
     * next save would store it once more.
     */
    private FluxException updatedWhileReplaying(String streamId, A aggregate) {
        List<String> buffered = aggregate.uncommittedEvents().stream().map(e -> e.getClass().getSimpleName()).toList();
        return new FluxException("Cannot load " + streamId + ": replaying it, a handler of " + aggregateClass.getSimpleName()
                + " called update(...), which applied and buffered " + buffered + " as new events. Replaying them on every"
                + " load, and storing them again on every save, would apply them more than once: handlers must only"
                + " change state; call update from command methods");
    }

    /** A handler that threw on a recorded event: which event, and the likely cause of a wrong class. */
    private FluxException replayFailed(RecordedEvent recorded, RuntimeException e) {
        return new FluxException("Cannot load " + recorded.streamId() + ": the handler of " + aggregateClass.getSimpleName()
                + " threw " + e + " replaying version " + recorded.version() + " (type '" + recorded.type() + "', position "
                + recorded.position() + "). Handlers must not throw for recorded events"
                + (e instanceof ClassCastException ? "; a value of the wrong class comes from a field whose type the JSON"
                        + " does not fix, a field of type Object, say (Jackson reads it back as maps, lists and plain values: an"
                        + " Integer where a Long was written): give the field a concrete type" : ""),
                e);
    }

    /**
     * Appends the aggregate's uncommitted events; {@code aggregate.save()} calls this. See
     * {@link Aggregate#save()}.
     *
     * @throws IllegalArgumentException when the aggregate is null, was not loaded by a repository (made with
     *                                  {@code new}), or was loaded by a repository of another store or category
     *                                  (its version is that stream's); nothing is written
     */
    public void save(A aggregate) {
        publish(commit(aggregate));
    }

    /**
     * Events a save stored, each with what it was stored as, for the bus: the i-th at {@code firstVersion + i} in
     * {@code streamId}; {@link #NONE} when there is no bus.
     */
    private record Saved(List<Object> events, List<EventData> stored, String streamId, long firstVersion) {
        static final Saved NONE = new Saved(List.of(), List.of(), null, ExpectedVersion.NO_STREAM);
    }

    /**
     * Refuses an aggregate this repository cannot save: null, made with {@code new}, or loaded from another store
     * or category, whose version is another stream's.
     */
    private void requireOwn(A aggregate, boolean saving) {
        if (aggregate == null) {
            throw new IllegalArgumentException("aggregate must not be null");
        }
        if (aggregate.id() == null) {
            throw new IllegalArgumentException("aggregate " + aggregate.getClass().getSimpleName() + " was not loaded by a"
                    + " Repository, so it has no id or stream: get it with repository.load(id) before "
                    + (saving ? "saving it" : "asking its position"));
        }
        Repository<?> loadedBy = aggregate.repository();
        if (loadedBy != this && (loadedBy.store != store || !loadedBy.category.equals(category))) {
            throw new IllegalArgumentException("aggregate " + loadedBy.streamId(aggregate.id()) + " was loaded from "
                    + loadedBy.store + ", and its version is that stream's there; this repository would "
                    + (saving ? "append its events to " : "look its version up in ") + streamId(aggregate.id()) + " in "
                    + store + ". " + (saving ? "Save it with aggregate.save(), or" : "Ask") + " through the repository"
                    + " that loaded it");
        }
    }

    /** Appends the uncommitted events and takes a due snapshot; returns the events to publish (none without a bus). */
    private Saved commit(A aggregate) {
        requireOwn(aggregate, true);
        // Read before the events: when another thread saves this instance meanwhile (aggregates are not thread-safe,
        // but it happens), this append then conflicts, rather than store the same events again at the new version.
        long expectedVersion = aggregate.version();
        List<Object> events = aggregate.uncommittedEvents();
        if (events.isEmpty()) {
            return Saved.NONE;
        }
        List<EventData> batch = new ArrayList<>(events.size());
        Map<String, String> unit = aggregate.unitMetadata();
        for (int i = 0; i < events.size(); i++) {
            batch.add(serializer.serialize(events.get(i), Metadata.layered(unit, aggregate.uncommittedMetadata(i))));
        }
        String streamId = streamId(aggregate.id());
        long newVersion = store.append(streamId, expectedVersion, batch);
        Saved saved = bus == null ? Saved.NONE     // copied before markCommitted clears the buffer 'events' views
                : new Saved(List.copyOf(events), batch, streamId, newVersion - batch.size() + 1);
        aggregate.markCommitted(newVersion);
        if (snapshots != null) {
            snapshots.afterSave(aggregate, streamId, batch.get(batch.size() - 1).eventId());
        }
        return saved;
    }

    private void publish(Saved saved) {
        for (int i = 0; i < saved.events().size(); i++) {
            EventData stored = saved.stored().get(i);
            bus.publish(saved.events().get(i),
                    new EventContext(stored.eventId(), stored.metadata(), saved.streamId(), saved.firstVersion() + i));
        }
    }

    /**
     * Loads the aggregate, runs {@code action} on it and saves it; on a
     * {@link ConcurrencyConflictException} it reloads and runs the action again, up to the configured
     * number of attempts, waiting a short random time between attempts after the first retry. Each
     * attempt runs the action on a newly loaded aggregate, so what the action does besides updating it
     * (a mail sent, say) is done once per attempt.
     *
     * <p>An action may save the aggregate itself; a conflict of update's own save after that is not
     * retried, since running the action again would store what it saved a second time.
     *
     * <p>Only a conflict of this save is retried: once the events are stored they are published (see
     * {@link Builder#publishTo}) and an exception of a bus listener, even a conflict of its own save,
     * reaches the caller without a retry. Nor is a store failure retried: whether the events were
     * stored is then unknown, and calling {@code update} again runs the action again on what it
     * loads, storing its events a second time when the failed append had stored them. Where that
     * matters, load, act and save yourself: saving the same aggregate again stores its events once,
     * or conflicts when they were stored (see {@link Aggregate#save()}).
     *
     * @return the saved aggregate
     * @throws ConcurrencyConflictException when every attempt met a conflict: it names the stream, the
     *                                      attempts and the last conflict's versions, and has that conflict
     *                                      as its cause; or, at once, when the action saved the aggregate
     *                                      itself and update's own save then met a conflict (what the
     *                                      action saved stays stored, the events after it are not)
     * @throws IllegalArgumentException     when the id is null or blank, or the action is null
     * @throws FluxException                when the store fails (whether the events were stored is then
     *                                      unknown, see above), or the thread is interrupted when a
     *                                      conflict would be retried, before or while waiting (nothing of
     *                                      that attempt was stored; the interrupt stays set)
     * @throws RuntimeException             whatever the action throws (nothing is saved then), or a bus
     *                                      listener throws (the events are stored then)
     */
    public A update(String id, Consumer<? super A> action) {
        return update(id, Map.of(), action);
    }

    /**
     * Like {@link #update(String, Consumer)}, recording {@code metadata} beside every event the action applies
     * (under an event's own entries, given to {@link Aggregate#update(Object, Map)}, where both have a key), as
     * {@link Aggregate#save(Map)} does: the correlation and causation ids of the request or message that led to
     * the command, say, so that the aggregate's command methods need not take them. Events the action saves
     * itself record it too. An empty map adds nothing.
     *
     * <pre>{@code
     * accounts.update("42", Metadata.causedBy(correlationId, commandId), a -> a.credit(5));
     * }</pre>
     *
     * @throws IllegalArgumentException when the metadata is null or holds a null or a lone surrogate (nothing
     *                                  is loaded then), and as {@link #update(String, Consumer)} says
     * @throws RuntimeException         as {@link #update(String, Consumer)} says
     */
    public A update(String id, Map<String, String> metadata, Consumer<? super A> action) {
        if (metadata == null) {
            throw new IllegalArgumentException("metadata must not be null; update(id, action) updates without");
        }
        Map<String, String> unit = Metadata.checkedCopyOf(metadata, "the update of " + streamId(id));
        if (action == null) {
            throw new IllegalArgumentException("action must not be null");
        }
        for (int attempt = 1; ; attempt++) {
            A aggregate = load(id);
            long loaded = aggregate.version();
            aggregate.unitMetadata(unit);
            action.accept(aggregate);
            Saved saved;
            try {
                saved = commit(aggregate);
            } catch (ConcurrencyConflictException conflict) {
                if (aggregate.version() != loaded) {
                    throw savedByAction(conflict, aggregate.version());
                }
                if (attempt >= maxAttempts) {
                    throw gaveUp(conflict, attempt);
                }
                backOff(attempt, conflict);
                continue;
            }
            aggregate.unitMetadata(Map.of());      // a later save of the aggregate returned records it no more
            publish(saved);
            return aggregate;
        }
    }

    /** The last conflict of an update that ran out of attempts, saying so: "reload and retry" is what it did. */
    private static ConcurrencyConflictException gaveUp(ConcurrencyConflictException last, int attempts) {
        return new ConcurrencyConflictException("Repository.update gave up on stream '" + last.streamId() + "' after "
                + attempts + (attempts == 1 ? " attempt, which" : " attempts, each") + " met a conflict (the last "
                + last.versions() + "); nothing of them was written. Another writer saves"
                + " this stream as often as update does: raise Repository.builder(...).maxAttempts(n), or save it from"
                + " fewer writers", last);
    }

    /**
     * A conflict after the action saved the aggregate itself: running the action again on a new load would store
     * what it saved a second time.
     */
    private static ConcurrencyConflictException savedByAction(ConcurrencyConflictException conflict, long savedAt) {
        return new ConcurrencyConflictException("Repository.update did not retry a conflict on stream '"
                + conflict.streamId() + "' (" + conflict.versions() + "): its action saved"
                + " the aggregate itself, to version " + savedAt + ", so running it again would store those events a"
                + " second time. The events after that save are not stored: leave saving to update, or load, act and"
                + " save yourself", conflict);
    }

    /**
     * The global position of {@code aggregate}'s last committed event (the one at its {@link Aggregate#version()}),
     * for {@link dev.flux.subscription.Subscription#awaitPosition} on a subscription to the store's log or to this
     * repository's category: a query answered once that returns true sees what the aggregate's save stored.
     * One read of one event:
     *
     * <pre>{@code
     * Account account = accounts.update("42", a -> a.credit(5));
     * balances.awaitPosition(accounts.positionOf(account), Duration.ofSeconds(5));
     * }</pre>
     *
     * @return the position, or 0 for an aggregate without committed events (every subscription has passed it)
     * @throws IllegalArgumentException when the aggregate is null, was not loaded by a repository, or was
     *                                  loaded by one of another store or category (as {@link #save} does)
     * @throws FluxException            when the store's read of the event at the aggregate's version finds none
     *                                  or another event; the message says which and the likely cause: a read
     *                                  from a replica behind the writes (a MongoDB secondary), a stream reset
     *                                  since the aggregate was loaded or saved, or a faulty reader
     */
    public long positionOf(A aggregate) {
        requireOwn(aggregate, false);
        long version = aggregate.version();
        if (version == ExpectedVersion.NO_STREAM) {
            return 0;
        }
        String streamId = streamId(aggregate.id());
        List<RecordedEvent> last = store.readStream(streamId, version, 1);
        if (last.isEmpty() || last.get(0).version() != version || !last.get(0).streamId().equals(streamId)) {
            throw positionUnknown(streamId, version, last);
        }
        return last.get(0).position();
    }

    /**
     * Why the read of the event at an aggregate's version found none, or another: a reader behind the writes (a
     * MongoDB secondary) and a reset stream both read nothing, and only the stream's version tells them apart.
     */
    private FluxException positionUnknown(String streamId, long version, List<RecordedEvent> read) {
        String cannot = "Cannot tell the position of " + streamId + "@" + version + ": " + store;
        if (!read.isEmpty()) {
            RecordedEvent other = read.get(0);
            return new FluxException(cannot + " returned " + other.type() + " " + other.streamId() + "@" + other.version()
                    + " (id " + other.eventId() + ") for it. An EventReader must return the events of the stream asked"
                    + " for, exactly that one, from the version asked for: fix the reader");
        }
        long stored = store.streamVersion(streamId);
        return new FluxException(cannot + (stored >= version
                ? " holds " + streamId + " up to version " + stored + ", but its read of version " + version + " found"
                        + " nothing: the read went to a replica behind the writes (a MongoDB secondary that the"
                        + " database's read preference allows, say); ask again once it caught up, or read from the primary"
                : (stored == ExpectedVersion.NO_STREAM ? " holds no event of " + streamId
                        : " holds " + streamId + " only up to version " + stored)
                        + ": the stream was reset since the aggregate was loaded or saved"));
    }

    /**
     * Whether the aggregate with this id has events in the store: what {@code load(id).version() >= 0}
     * tells, from the stream's version alone, without replaying anything (so a stream that could not be
     * loaded exists too). A create-if-absent command still needs the save's conflict check: another writer
     * may create the aggregate between this call and the save, which then throws
     * {@link ConcurrencyConflictException}.
     *
     * @throws IllegalArgumentException when the id is null or blank
     */
    public boolean exists(String id) {
        return store.streamVersion(streamId(id)) != ExpectedVersion.NO_STREAM;
    }

    /**
     * The stream id of the aggregate with this id: {@code <category>-<id>}.
     *
     * @throws IllegalArgumentException when the id is null or blank
     */
    public String streamId(String id) {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("aggregate id must not be null or blank, was "
                    + (id == null ? "null" : "'" + id + "'"));
        }
        return category + '-' + id;
    }

    /** The category this repository's streams are in. */
    public String category() {
        return category;
    }

    /** The serializer, whose {@link EventTypes} holds this aggregate's event classes. */
    public EventSerializer serializer() {
        return serializer;
    }

    /** The store this repository reads and writes. */
    public EventStore store() {
        return store;
    }

    private A newAggregate() {
        A aggregate;
        try {
            aggregate = aggregateClass.cast(constructor.invoke());
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new FluxException("The constructor of " + aggregateClass.getName() + " threw", e);
        }
        if (aggregate.hasUncommittedEvents()) {
            throw updatedInConstructor(aggregate);
        }
        return aggregate;
    }

    /**
     * A constructor that called {@code update}: every aggregate made to be loaded would hold its events as new
     * ones, applied once more on each load and stored once more on each save.
     */
    private FluxException updatedInConstructor(A aggregate) {
        List<String> buffered = aggregate.uncommittedEvents().stream().map(e -> e.getClass().getSimpleName()).toList();
        return new FluxException("The constructor of " + aggregateClass.getName() + " called update(...), which applied and"
                + " buffered " + buffered + " as new events. The Repository makes an aggregate for every load, so each"
                + " would hold them again, apply them again and store them again on each save: set the initial state in"
                + " fields or the constructor itself; call update from command methods");
    }

    /**
     * Waits before the next attempt, or throws when the thread is interrupted: checked before each retry, the first
     * too (which does not wait), since a sleep of a random 0 returns without looking at the interrupt.
     */
    private static void backOff(int attempt, ConcurrencyConflictException conflict) {
        if (Thread.currentThread().isInterrupted()) {
            throw interrupted(conflict);
        }
        if (attempt == 1) {
            return;
        }
        long capMicros = Math.min(50_000L, 500L << Math.min(attempt - 2, 10));
        try {
            TimeUnit.MICROSECONDS.sleep(ThreadLocalRandom.current().nextLong(capMicros + 1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw interrupted(conflict);
        }
    }

    private static FluxException interrupted(ConcurrencyConflictException conflict) {
        return new FluxException("Repository.update stopped retrying stream '" + conflict.streamId() + "': the thread was"
                + " interrupted after a conflict (" + conflict.versions() + "); nothing of that"
                + " attempt was stored, and the interrupt stays set", conflict);
    }

    private static MethodHandle noArgConstructor(Class<?> aggregateClass) {
        if (Modifier.isAbstract(aggregateClass.getModifiers())) {
            throw new IllegalArgumentException(aggregateClass.getName() + " is abstract: a Repository needs a concrete class");
        }
        try {
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(aggregateClass, MethodHandles.lookup());
            return lookup.findConstructor(aggregateClass, MethodType.methodType(void.class));
        } catch (NoSuchMethodException e) {
            Class<?> enclosing = aggregateClass.getEnclosingClass();
            if (enclosing != null && !Modifier.isStatic(aggregateClass.getModifiers())
                    && Arrays.stream(aggregateClass.getDeclaredConstructors())
                            .anyMatch(c -> c.getParameterCount() > 0 && c.getParameterTypes()[0] == enclosing)) {
                throw new IllegalArgumentException(aggregateClass.getName() + " is an inner class of " + enclosing.getName()
                        + ": its constructors take the " + enclosing.getSimpleName() + " it belongs to, so even one"
                        + " declared without parameters is no no-argument constructor the Repository can call. Declare it"
                        + " static, or give it a file of its own", e);
            }
            throw new IllegalArgumentException(aggregateClass.getName()
                    + " needs a no-argument constructor (any visibility) for the Repository to create it", e);
        } catch (IllegalAccessException e) {
            throw new IllegalArgumentException("Cannot access the constructor of " + aggregateClass.getName()
                    + ": if it is in a named module, open its package to dev.flux.core", e);
        }
    }

    /** Options for a {@link Repository}; every one has a default. */
    public static final class Builder<A extends Aggregate> {
        private final Class<A> aggregateClass;
        private final EventStore store;
        private String category;
        private EventSerializer serializer;
        private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
        private SnapshotStore snapshotStore;
        private SnapshotPolicy snapshotPolicy;
        private Bus bus;

        private Builder(Class<A> aggregateClass, EventStore store) {
            if (aggregateClass == null || store == null) {
                throw new IllegalArgumentException("aggregateClass and store must not be null");
            }
            this.aggregateClass = aggregateClass;
            this.store = store;
            this.category = aggregateClass.getSimpleName();
        }

        /** The category of the streams (default: the class's simple name); must not contain {@code -}. */
        public Builder<A> category(String category) {
            this.category = StreamName.requireCategory(category);
            return this;
        }

        /** The serializer (default: a {@link JacksonEventSerializer} with its own {@link EventTypes}). */
        public Builder<A> serializer(EventSerializer serializer) {
            if (serializer == null) {
                throw new IllegalArgumentException("serializer must not be null");
            }
            this.serializer = serializer;
            return this;
        }

        /**
         * How many times {@link Repository#update} tries before it gives up with a conflict naming the stream,
         * the attempts and the last conflict's versions, at least 1 (default
         * {@value Repository#DEFAULT_MAX_ATTEMPTS}).
         *
         * @throws IllegalArgumentException when it is below 1
         */
        public Builder<A> maxAttempts(int maxAttempts) {
            if (maxAttempts < 1) {
                throw new IllegalArgumentException("maxAttempts must be >= 1, was " + maxAttempts);
            }
            this.maxAttempts = maxAttempts;
            return this;
        }

        /**
         * Loads aggregates from their latest snapshot in {@code store} and replays only the events after
         * it; takes a snapshot after a save when {@code policy} says so (say,
         * {@link SnapshotPolicy#everyEvents(int) every 500 events}). The state is the aggregate's
         * non-transient fields, written with the serializer's Jackson mapper; mark a field
         * {@code transient} to leave it out. A collection or map comes back as the public class the
         * field is initialised with, or an {@code EnumSet}.
         * {@link #build()} refuses a field whose type is or holds {@code Object} (say
         * {@code Map<String, Object>} or {@code List<?>}), as its values would come back as other
         * classes. A state that would come back otherwise than it is (a subclass of a field's class, a
         * {@code TreeSet} nested in a map, a {@code TreeMap} with a comparator, one object with non-final
         * fields that two fields share) is not snapshotted, with a logged warning naming the field: such an
         * aggregate is loaded by replay. A snapshot that
         * cannot be read (the class, a class it holds, a handled event class or its schema version
         * changed, the bytes are corrupt, the stream was reset) is ignored with a logged warning: the
         * aggregate is rebuilt from its events. A handler that now makes something else of the same
         * events is not seen: raise {@link dev.flux.serialization.SchemaVersion @SchemaVersion} on the
         * aggregate class with it. A snapshot names the event it was taken after; one whose stream no
         * longer holds that event at its version (the stream was reset) is deleted too. A failure to
         * write one is logged and never fails the save.
         *
         * <p>Taking a snapshot runs on the thread that saves, after the events are stored: the state is
         * written, read back into a new aggregate and compared, about what a load from the snapshot costs.
         * The aggregate's no-argument constructor runs when the repository is built (its collection and map
         * fields' classes join the snapshot type) and once per snapshot taken.
         */
        public Builder<A> snapshots(SnapshotStore store, SnapshotPolicy policy) {
            if (store == null || policy == null) {
                throw new IllegalArgumentException("snapshot store and policy must not be null");
            }
            this.snapshotStore = store;
            this.snapshotPolicy = policy;
            return this;
        }

        /**
         * After each successful save, publishes the saved events to {@code bus}, in order, on the
         * saving thread, each with the id and metadata it was stored with and the stream and version it was
         * stored at: what a listener
         * {@linkplain Bus#subscribeWithContext subscribed with context} gets as its {@link EventContext}.
         * A listener's exception then reaches the caller of {@code save()}, but the events are already
         * stored and the aggregate is saved (saving it again stores nothing); the events after the one it
         * threw on are not published.
         */
        public Builder<A> publishTo(Bus bus) {
            if (bus == null) {
                throw new IllegalArgumentException("bus must not be null");
            }
            this.bus = bus;
            return this;
        }


        /**
         * The repository.
         *
         * @throws IllegalArgumentException when the aggregate class is abstract, or anonymous without a
         *                                  {@link #category}, or has no no-argument constructor, or a handler's
         *                                  event class cannot be registered (see {@link Repository#of}); with
         *                                  {@link #snapshots}, when a field holds {@code Object}, the class's
         *                                  {@code @SchemaVersion} is below 1, or its constructor throws
         */
        public Repository<A> build() {
            return new Repository<>(this);
        }
    }
}
