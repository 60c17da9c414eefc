package dev.flux.projection;

import dev.flux.EventReader;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;
import dev.flux.serialization.EventSerializer;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.LongFunction;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * Folds events into a state: an initial state and one reducer {@code (state, event) -> state} per
 * event class, run over a stream or a category, or fed event by event from a subscription.
 *
 * <pre>{@code
 * Projector<Long> balance = Projector.from(0L)
 *         .on(AccountCredited.class, (total, e) -> total + e.amount())
 *         .on(AccountDebited.class, (total, e) -> total - e.amount());
 * long now = balance.projectStream(store, "Account-42");
 * long all = balance.projectCategory(store, "Account");
 * }</pre>
 *
 * <p>A projector is immutable: {@link #on} returns a new one, so a projector can be shared by threads
 * (its states must then be immutable values, as reducers return new states). Events of types with
 * no reducer are skipped without being decoded, but for an event stored at a version an upcaster
 * reads (or below one): it may become a type with a reducer (a rename), so it is decoded to know, and
 * the class it becomes must be registered. Reducers must not return null.
 *
 * @param <S> the state
 */
public final class Projector<S> {
    private static final int PAGE = 1000;

    private final S initial;
    private final Map<Class<?>, BiFunction<S, Object, S>> reducers;
    private final EventSerializer serializer;
    private final Map<String, BiFunction<S, Object, S>> reducersByType;

    private Projector(S initial, Map<Class<?>, BiFunction<S, Object, S>> reducers, EventSerializer serializer) {
        this.initial = initial;
        this.reducers = reducers;
        this.serializer = serializer;
        EventTypes types = serializer.eventTypes();
        Map<String, BiFunction<S, Object, S>> byType = new HashMap<>();
        for (Map.Entry<Class<?>, BiFunction<S, Object, S>> entry : reducers.entrySet()) {
            byType.put(types.nameOrRegister(entry.getKey()), entry.getValue());
        }
        this.reducersByType = Map.copyOf(byType);
    }

    /**
     * A projector with no reducers that starts from {@code initial}, decoding with a default
     * {@link JacksonEventSerializer}: it knows none of your upcasters or mapper settings, so give a
     * projector of events that need them the serializer holding them, with {@link #from(Object, EventSerializer)}.
     *
     * @throws IllegalArgumentException when {@code initial} is null
     */
    public static <S> Projector<S> from(S initial) {
        return from(initial, new JacksonEventSerializer(new EventTypes()));
    }

    /**
     * As {@link #from(Object)}, decoding with {@code serializer} (a repository's, say).
     *
     * @throws IllegalArgumentException when either is null
     */
    public static <S> Projector<S> from(S initial, EventSerializer serializer) {
        if (initial == null) {
            throw new IllegalArgumentException("initial state must not be null");
        }
        if (serializer == null) {
            throw new IllegalArgumentException("serializer must not be null");
        }
        return new Projector<>(initial, Map.of(), serializer);
    }

    /**
     * A projector that also folds events of {@code eventClass} with {@code reducer}; this one is unchanged.
     * Reducers go by the event's exact class: one of a supertype would never run, so an interface or an
     * abstract class is refused.
     *
     * @throws IllegalArgumentException when either is null, the class already has a reducer, or its
     *                                  serializer's {@link EventTypes} cannot register it (not a concrete
     *                                  class, or its name taken by another class)
     */
    @SuppressWarnings("unchecked")
    public <E> Projector<S> on(Class<E> eventClass, BiFunction<S, ? super E, S> reducer) {
        if (eventClass == null || reducer == null) {
            throw new IllegalArgumentException("eventClass and reducer must not be null");
        }
        if (reducers.containsKey(eventClass)) {
            throw new IllegalArgumentException(eventClass.getName() + " already has a reducer in this projector");
        }
        Map<Class<?>, BiFunction<S, Object, S>> more = new HashMap<>(reducers);
        more.put(eventClass, (BiFunction<S, Object, S>) reducer);
        return new Projector<>(initial, Map.copyOf(more), serializer);
    }

    /** The state it starts from. */
    public S initial() {
        return initial;
    }

    /**
     * Folds one recorded event into {@code state}: decodes it and applies its reducer, or returns
     * {@code state} when its type has none.
     *
     * @throws dev.flux.serialization.EventDecodingException when the event cannot be decoded
     * @throws FluxException                                 when the reducer returns null, or throws (then its
     *                                                       exception is the cause, and the message names the event)
     * @throws IllegalArgumentException                      when {@code state} or {@code recorded} is null
     */
    public S apply(S state, RecordedEvent recorded) {
        requireState(state);
        if (recorded == null) {
            throw new IllegalArgumentException("recorded event must not be null");
        }
        Object event = null;
        BiFunction<S, Object, S> reducer;
        EventTypes types = serializer.eventTypes();
        if (types.hasUpcasters(recorded.type()) && types.needsUpcast(recorded)) {
            // An upcaster may turn it into another type (a rename, a split): decode to know. Not when it was
            // stored at a version no upcaster reads, so a type without a reducer needs no class here.
            event = serializer.deserialize(recorded);
            reducer = reducers.get(event.getClass());
        } else {
            reducer = reducersByType.get(recorded.type());
        }
        if (reducer == null) {
            return state;
        }
        Object decoded = event != null ? event : serializer.deserialize(recorded);
        S next;
        try {
            next = reducer.apply(state, decoded);
        } catch (RuntimeException e) {
            throw new FluxException("the reducer for " + recorded.type() + " threw " + e + " at " + recorded.streamId() + "@"
                    + recorded.version() + " (position " + recorded.position() + ", id " + recorded.eventId() + ")", e);
        }
        if (next == null) {
            throw new FluxException("the reducer for " + recorded.type() + " returned null at " + recorded.streamId()
                    + "@" + recorded.version() + "; return the state instead");
        }
        return next;
    }

    /**
     * Folds an already decoded event into {@code state} (by its class), or returns {@code state} when it has no reducer.
     * A reducer's exception passes through as it is: unlike {@link #apply}, there is no recorded event to name.
     *
     * @throws FluxException            when the reducer returns null
     * @throws IllegalArgumentException when {@code state} or {@code event} is null
     */
    public S applyEvent(S state, Object event) {
        requireState(state);
        if (event == null) {
            throw new IllegalArgumentException("event must not be null");
        }
        BiFunction<S, Object, S> reducer = reducers.get(event.getClass());
        if (reducer == null) {
            return state;
        }
        S next = reducer.apply(state, event);
        if (next == null) {
            throw new FluxException("the reducer for " + event.getClass().getName() + " returned null; return the state instead");
        }
        return next;
    }

    /**
     * The state after every event of {@code streamId}, from the initial state; the initial state when it has none.
     *
     * @throws FluxException            when the reader returns an event out of order (not after the one
     *                                  before it, or below the version asked for) or of another stream,
     *                                  before folding it,
     *                                  or as {@link #apply} does (a reducer that throws, say)
     * @throws IllegalArgumentException when the reader is null or the stream id is null or blank
     */
    public S projectStream(EventReader reader, String streamId) {
        requireReader(reader);
        StreamName.requireStreamId(streamId);
        // A stream's cursor is the version to read from next, as in a stream subscription.
        return project(reader, "stream '" + streamId + "'", "from version ", from -> reader.readStream(streamId, from, PAGE),
                event -> event.version() + 1, event -> event.streamId().equals(streamId));
    }

    /**
     * The state after every event of {@code category}, in global order, from the initial state.
     *
     * @throws FluxException            when the reader returns an event out of order (not after the one
     *                                  before it, or at or below the position asked after) or of another
     *                                  category, before folding it,
     *                                  or as {@link #apply} does (a reducer that throws, say)
     * @throws IllegalArgumentException when the reader is null or the category is null, blank or holds {@code -}
     */
    public S projectCategory(EventReader reader, String category) {
        requireReader(reader);
        StreamName.requireCategory(category);
        return project(reader, "category '" + category + "'", "after position ",
                after -> reader.readCategory(category, after, PAGE), RecordedEvent::position,
                event -> category.equals(event.category()));
    }

    /**
     * Folds every page {@code read} gives from cursor 0 on, each asked for with the cursor of the last event before
     * it. A page is checked before any of it is folded: each event's cursor above the one before, the first above
     * the cursor asked with, and each of the stream or category asked for. A reader that answers otherwise would have
     * events folded twice, or another stream's folded in, or, repeating its last page, the projection never end.
     *
     * @param asked    what a cursor means, for messages: "from version " or "after position "
     * @param belongs  whether an event is of the stream or category asked for
     */
    private S project(EventReader reader, String source, String asked, LongFunction<List<RecordedEvent>> read,
                      ToLongFunction<RecordedEvent> cursorOf, Predicate<RecordedEvent> belongs) {
        S state = initial;
        long cursor = 0;
        List<RecordedEvent> page;
        while (!(page = read.apply(cursor)).isEmpty()) {
            long previous = cursor;
            for (int i = 0; i < page.size(); i++) {
                RecordedEvent event = page.get(i);
                long next = cursorOf.applyAsLong(event);
                if (next <= previous) {
                    throw new FluxException("Cannot project " + source + ": asked " + reader + " for the events " + asked
                            + cursor + ", it returned " + event.type() + " " + event.streamId() + "@" + event.version()
                            + " (position " + event.position() + ", id " + event.eventId() + ") out of order, not after "
                            + (i == 0 ? "the place asked for" : "the event before it") + ". Folded, it would"
                            + " count twice; an EventReader must return only the events asked for, in order: fix the reader");
                }
                if (!belongs.test(event)) {
                    throw new FluxException("Cannot project " + source + ": asked " + reader + " for its events " + asked
                            + cursor + ", it returned " + event.type() + " " + event.streamId() + "@" + event.version()
                            + " (position " + event.position() + ", id " + event.eventId() + "), which is not of " + source
                            + ". Folded, it would count in another's state; an EventReader must return only the events"
                            + " asked for: fix the reader");
                }
                previous = next;
            }
            for (RecordedEvent event : page) {
                state = apply(state, event);
            }
            cursor = previous;
        }
        return state;
    }

    private static void requireState(Object state) {
        if (state == null) {
            throw new IllegalArgumentException("state must not be null: start from initial()");
        }
    }

    private static void requireReader(EventReader reader) {
        if (reader == null) {
            throw new IllegalArgumentException("reader must not be null");
        }
    }
}
