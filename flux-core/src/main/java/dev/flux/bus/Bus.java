package dev.flux.bus;

import dev.flux.FluxException;

import java.lang.reflect.Array;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A synchronous, in-process bus for events, commands and queries. Every call runs the listeners or
 * the handler on the caller's thread before it returns.
 *
 * <ul>
 *   <li><b>Events</b>: {@link #publish} calls every listener {@linkplain #subscribe subscribed} to the
 *   event's class or to a supertype of it ({@code Object} gets everything), in the order they
 *   subscribed, those {@linkplain #subscribeWithContext subscribed with context} among them: they get the
 *   event's id, metadata, stream and version too (an {@link EventContext}), and are otherwise listeners
 *   like the rest. A listener that throws stops the rest, and the exception reaches the publisher. A
 *   publish calls the listeners subscribed when it began: one subscribed meanwhile misses that event, one
 *   unsubscribed meanwhile still gets it. A listener that publishes runs that publish to its end before
 *   the next listener gets the first event, so listeners after it see the second event first.</li>
 *   <li><b>Commands</b>: {@link #dispatch} calls the one handler {@linkplain #register registered} for
 *   the command's class (or, when there is none, for its most specific registered supertype);
 *   {@link HandlerNotFoundException} when there is none. One handler per class: registering a second
 *   one is an error, not a replacement.</li>
 *   <li><b>Queries</b>: {@link #ask} is a dispatch whose handler returns the answer: one registered
 *   with {@link #registerQuery}. A command handler gives no answer, so it never answers a query (an
 *   {@code Object} one that takes every command included); {@link #dispatch} of a query runs its
 *   query handler and drops the answer.</li>
 * </ul>
 *
 * <p>Messages are told apart by their class, never by a name, so two classes named alike in different
 * packages never meet. The bus is thread-safe: subscribing and registering may happen from any thread
 * while messages flow. Listeners and handlers run on each caller's thread, so ones that several threads
 * publish or dispatch to run concurrently and must be thread-safe themselves. Registrations take one
 * lock and replace the handler table whole; a dispatch reads it without a lock and runs the handler of
 * the table before or after a racing registration, never of a mix. A message class is resolved to its
 * handler once per table (a class without a handler of its own costs one scan of the handlers, not one
 * per message). Each {@code subscribe}/{@code register} returns a {@link Runnable} that undoes that one
 * call (the same listener subscribed twice is two subscriptions); running it again does nothing.
 */
public final class Bus {
    /** One of {@code consumer} and {@code contextual} is null: a listener takes the event alone or with its context. */
    private record Listener(Class<?> type, Consumer<Object> consumer, BiConsumer<Object, EventContext> contextual) {
    }

    /**
     * {@code handler}: what the user registered, named in errors; {@code answers}: registered with
     * {@link #registerQuery}, so {@link #ask} may take it.
     */
    private record Handler(Class<?> messageClass, Object handler, Function<Object, Object> function, boolean answers) {
    }

    /** What each query class asks for (see {@link #answerType}), found once per class. */
    private static final ClassValue<Class<?>> ANSWER_TYPES = new ClassValue<>() {
        @Override
        protected Class<?> computeValue(Class<?> queryClass) {
            Class<?> answer = queryArgument(queryClass, Map.of());
            return answer == null ? Object.class : answer;
        }
    };

    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    /** The handlers now; replaced whole under {@link #registration}, read without a lock. */
    private volatile Handlers handlers = new Handlers(Map.of());
    private final Object registration = new Object();
    /** How many times a message class was resolved by a scan of the handlers; for tests in this package. */
    private final AtomicInteger scans = new AtomicInteger();

    /**
     * The handlers registered at one moment, and what each message class resolved to among them, so a
     * class is resolved once, not by a scan of every handler per message. A registration replaces the
     * whole table, its resolutions with it: a resolution is never of other handlers than its own table's,
     * whatever registers meanwhile.
     */
    private static final class Handlers {
        private final Map<Class<?>, Handler> byClass;
        private final Map<Class<?>, Resolution> commands = new ConcurrentHashMap<>();
        private final Map<Class<?>, Resolution> queries = new ConcurrentHashMap<>();

        Handlers(Map<Class<?>, Handler> byClass) {
            this.byClass = Map.copyOf(byClass);
        }
    }

    /** How many times a message class was resolved by a scan of the handlers registered then. */
    int scans() {
        return scans.get();
    }

    /** The handler a message class resolved to, or what is wrong when none may take it. */
    private record Resolution(Handler handler, Function<Class<?>, FluxException> failure) {
    }

    /**
     * Calls {@code listener} with every event published of {@code eventClass} or a subtype.
     *
     * @return what to run to end this subscription (and no other of the same listener); running it again does nothing
     * @throws IllegalArgumentException when either is null, or the class is primitive
     */
    @SuppressWarnings("unchecked")
    public <E> Runnable subscribe(Class<E> eventClass, Consumer<? super E> listener) {
        requireNonNull(eventClass, "eventClass");
        requireNonNull(listener, "listener");
        return addListener(new Listener(boxed(eventClass), (Consumer<Object>) listener, null));
    }

    /**
     * Calls {@code listener} with every event published of {@code eventClass} or a subtype, and its
     * {@link EventContext}: the id and metadata it was saved with, and the stream and version it was saved at,
     * when a repository publishes it (see {@link dev.flux.Repository.Builder#publishTo}), the context given to
     * {@link #publish(Object, EventContext)}, or, from {@link #publish(Object)}, a new id for that publish, empty
     * metadata and no stream. It takes its turn among all listeners in subscription order, as one
     * {@linkplain #subscribe subscribed} without context does. (A name of its own, not an overload of
     * {@code subscribe}: an overload would make {@code subscribe(type, list::add)} ambiguous.)
     *
     * @return what to run to end this subscription (and no other of the same listener); running it again does nothing
     * @throws IllegalArgumentException when either is null, or the class is primitive
     */
    @SuppressWarnings("unchecked")
    public <E> Runnable subscribeWithContext(Class<E> eventClass, BiConsumer<? super E, ? super EventContext> listener) {
        requireNonNull(eventClass, "eventClass");
        requireNonNull(listener, "listener");
        return addListener(new Listener(boxed(eventClass), null, (BiConsumer<Object, EventContext>) listener));
    }

    private Runnable addListener(Listener entry) {
        listeners.add(entry);
        return () -> listeners.removeIf(subscribed -> subscribed == entry);    // by identity: equal entries are other subscriptions
    }

    /**
     * Calls every listener of the event's class and its supertypes, in subscription order. A listener's
     * exception stops the others and reaches the caller unchanged, not wrapped. Listeners
     * {@linkplain #subscribeWithContext subscribed with context} get one made for this publish, the same for
     * each: a new id that no store holds and empty metadata (see {@link EventContext}).
     *
     * @throws IllegalArgumentException when the event is null
     */
    public void publish(Object event) {
        requireNonNull(event, "event");
        deliver(event, null);
    }

    /**
     * Calls every listener of the event's class and its supertypes, in subscription order, as
     * {@link #publish(Object)} does; those {@linkplain #subscribeWithContext subscribed with context} get
     * {@code context}. For publishers that hold what an event was stored with: its id and metadata, and the
     * stream and version it is at (a repository publishes its saved events so).
     *
     * @throws IllegalArgumentException when the event or the context is null
     */
    public void publish(Object event, EventContext context) {
        requireNonNull(event, "event");
        requireNonNull(context, "context");
        deliver(event, context);
    }

    /** {@code context} null: one is made for this publish, once a listener asks for it. */
    private void deliver(Object event, EventContext context) {
        for (Listener listener : listeners) {
            if (listener.type().isInstance(event)) {
                if (listener.consumer() != null) {
                    listener.consumer().accept(event);
                } else {
                    if (context == null) {
                        context = EventContext.unsaved();
                    }
                    listener.contextual().accept(event, context);
                }
            }
        }
    }

    /**
     * Makes {@code handler} the one that handles commands of {@code commandClass}.
     *
     * @return what to run to unregister it
     * @throws IllegalStateException    when the class already has a handler
     * @throws IllegalArgumentException when either is null, or the class is primitive
     */
    public <C> Runnable register(Class<C> commandClass, Consumer<? super C> handler) {
        requireNonNull(commandClass, "commandClass");
        requireNonNull(handler, "handler");
        return add(commandClass, new Handler(commandClass, handler, command -> {
            @SuppressWarnings("unchecked") C typed = (C) command;
            handler.accept(typed);
            return null;
        }, false));
    }

    /**
     * Makes {@code handler} the one that answers queries of {@code queryClass}, and of its subtypes that
     * have no query handler of their own. A handler of a raw or generic query class (an interface several
     * queries share, say) must answer each query with what that query asks for: {@link #ask} refuses
     * another answer.
     *
     * @return what to run to unregister it
     * @throws IllegalStateException    when the class already has a handler
     * @throws IllegalArgumentException when either is null
     */
    public <R, Q extends Query<R>> Runnable registerQuery(Class<Q> queryClass, Function<? super Q, ? extends R> handler) {
        requireNonNull(queryClass, "queryClass");
        requireNonNull(handler, "handler");
        return add(queryClass, new Handler(queryClass, handler, query -> {
            @SuppressWarnings("unchecked") Q typed = (Q) query;
            return handler.apply(typed);
        }, true));
    }

    /**
     * Runs the handler of the command's class, or of its most specific supertype that has one, on this
     * thread; a query's handler runs too and its answer is dropped. What the handler throws reaches the
     * caller unchanged, not wrapped (a checked exception a handler throws sneakily included).
     *
     * @throws HandlerNotFoundException when no handler takes it
     * @throws FluxException            when handlers of several unrelated supertypes would take it
     * @throws IllegalArgumentException when the command is null
     */
    public void dispatch(Object command) {
        requireNonNull(command, "command");
        handlerFor(command.getClass(), false).function().apply(command);
    }

    /**
     * Runs the query handler ({@link #registerQuery}) of the query's class, or of its most specific
     * supertype that has one, and returns its answer. A command handler ({@link #register}) gives no
     * answer, so it never answers a query, not even one of {@code Object} that takes every command.
     *
     * <p>The answer is checked against the query's answer type, the {@code R} its class fixes in
     * {@code Query<R>} ({@code Long} for {@code record Balance(String id) implements Query<Long>}): a
     * handler registered through a raw or generic query class that answers something else is refused
     * here, naming the query class, the handler and what it answered, not left to fail as a
     * {@link ClassCastException} wherever the answer is used. Where the class leaves {@code R} open (a
     * generic query class), only its bound is checked. What the handler throws reaches the caller
     * unchanged, not wrapped.
     *
     * @throws HandlerNotFoundException when no query handler takes it
     * @throws FluxException            when query handlers of several unrelated supertypes would take it,
     *                                  or the handler answers with a value that is not of the query's
     *                                  answer type
     * @throws IllegalArgumentException when the query is null
     */
    @SuppressWarnings("unchecked")
    public <R> R ask(Query<R> query) {
        requireNonNull(query, "query");
        Handler handler = handlerFor(query.getClass(), true);
        Object answer = handler.function().apply(query);
        Class<?> answerType = answerType(query.getClass());
        if (answer != null && !answerType.isInstance(answer)) {
            throw new FluxException("the query handler " + handler.handler() + " registered for "
                    + handler.messageClass().getName() + " answered a " + query.getClass().getName() + " with a "
                    + answer.getClass().getName() + ", but " + query.getClass().getSimpleName() + " asks for a "
                    + answerType.getName() + " (its Query<R>): answer it with a " + answerType.getName() + " or null,"
                    + " or register a handler of its own for " + query.getClass().getName());
        }
        return (R) answer;
    }

    private Runnable add(Class<?> messageClass, Handler handler) {
        boxed(messageClass);
        synchronized (registration) {
            if (handlers.byClass.containsKey(messageClass)) {
                throw new IllegalStateException(messageClass.getName() + " already has a handler on this bus;"
                        + " unregister it first (each command or query class has exactly one)");
            }
            Map<Class<?>, Handler> changed = new HashMap<>(handlers.byClass);
            changed.put(messageClass, handler);
            handlers = new Handlers(changed);
        }
        return () -> {
            synchronized (registration) {
                if (handlers.byClass.get(messageClass) == handler) {
                    Map<Class<?>, Handler> changed = new HashMap<>(handlers.byClass);
                    changed.remove(messageClass);
                    handlers = new Handlers(changed);
                }
            }
        };
    }

    /** The handler of {@code messageClass} or its most specific supertype; of a query handler alone when {@code answering}. */
    private Handler handlerFor(Class<?> messageClass, boolean answering) {
        Handlers now = handlers;
        Map<Class<?>, Resolution> resolved = answering ? now.queries : now.commands;
        Resolution resolution = resolved.get(messageClass);
        if (resolution == null) {
            resolution = resolved.computeIfAbsent(messageClass, type -> {
                scans.incrementAndGet();
                return resolve(now.byClass, type, answering);
            });
        }
        if (resolution.handler() == null) {
            throw resolution.failure().apply(messageClass);
        }
        return resolution.handler();
    }

    private static Resolution resolve(Map<Class<?>, Handler> handlers, Class<?> messageClass, boolean answering) {
        Handler exact = handlers.get(messageClass);
        if (exact != null && (exact.answers() || !answering)) {
            return new Resolution(exact, null);
        }
        Map<Class<?>, Handler> candidates = new HashMap<>();
        for (Map.Entry<Class<?>, Handler> entry : handlers.entrySet()) {
            if (entry.getKey().isAssignableFrom(messageClass) && (entry.getValue().answers() || !answering)) {
                candidates.put(entry.getKey(), entry.getValue());
            }
        }
        if (candidates.isEmpty()) {
            return new Resolution(null, answering ? type -> noQueryHandler(handlers, type) : HandlerNotFoundException::new);
        }
        Class<?> best = null;
        for (Class<?> candidate : candidates.keySet()) {
            if (best == null || best.isAssignableFrom(candidate)) {
                best = candidate;
            }
        }
        for (Class<?> candidate : candidates.keySet()) {
            if (!candidate.isAssignableFrom(best)) {
                String ambiguous = messageClass.getName() + " is handled by " + (answering ? "query " : "")
                        + "handlers of several unrelated supertypes " + candidates.keySet() + "; register one for "
                        + messageClass.getName() + " itself";
                return new Resolution(null, type -> new FluxException(ambiguous));
            }
        }
        return new Resolution(candidates.get(best), null);
    }

    /** No query handler takes {@code queryClass}; the message names a command handler that does, which cannot answer. */
    private static HandlerNotFoundException noQueryHandler(Map<Class<?>, Handler> handlers, Class<?> queryClass) {
        String commandHandler = "";
        for (Class<?> registered : handlers.keySet()) {
            if (registered.isAssignableFrom(queryClass)) {
                commandHandler = "; the handler registered for " + registered.getName() + " takes it as a command,"
                        + " which gives no answer (register(...)): answer it with registerQuery(...)";
                break;
            }
        }
        return new HandlerNotFoundException(queryClass, "no query handler is registered for " + queryClass.getName()
                + " (nor for a supertype of it)" + commandHandler);
    }

    /** The class of the answer a query class asks for: the erasure of the {@code R} it fixes in {@code Query<R>}. */
    private static Class<?> answerType(Class<?> queryClass) {
        return ANSWER_TYPES.get(queryClass);
    }

    /**
     * The erasure of {@code Query}'s argument as {@code type} fixes it, its own type variables bound
     * to the erasures in {@code bound}; null when {@code type} does not implement {@code Query}.
     */
    private static Class<?> queryArgument(Class<?> type, Map<TypeVariable<?>, Class<?>> bound) {
        List<Type> supertypes = new ArrayList<>(List.of(type.getGenericInterfaces()));
        if (type.getGenericSuperclass() != null) {
            supertypes.add(type.getGenericSuperclass());
        }
        for (Type supertype : supertypes) {
            if (supertype == Query.class) {
                return Object.class;    // implemented raw: any answer
            }
            if (supertype instanceof ParameterizedType parameterized) {
                Class<?> raw = (Class<?>) parameterized.getRawType();
                Type[] arguments = parameterized.getActualTypeArguments();
                if (raw == Query.class) {
                    return erasure(arguments[0], bound);
                }
                if (Query.class.isAssignableFrom(raw)) {
                    Map<TypeVariable<?>, Class<?>> rawBound = new HashMap<>();
                    TypeVariable<?>[] variables = raw.getTypeParameters();
                    for (int i = 0; i < variables.length; i++) {
                        rawBound.put(variables[i], erasure(arguments[i], bound));
                    }
                    return queryArgument(raw, rawBound);
                }
            } else if (supertype instanceof Class<?> raw && Query.class.isAssignableFrom(raw)) {
                return queryArgument(raw, Map.of());    // a raw supertype: its variables erase to their bounds
            }
        }
        return null;
    }

    private static Class<?> erasure(Type type, Map<TypeVariable<?>, Class<?>> bound) {
        if (type instanceof Class<?> plain) {
            return plain;
        }
        if (type instanceof ParameterizedType parameterized) {
            return (Class<?>) parameterized.getRawType();
        }
        if (type instanceof GenericArrayType array) {
            return Array.newInstance(erasure(array.getGenericComponentType(), bound), 0).getClass();
        }
        if (type instanceof TypeVariable<?> variable) {
            Class<?> value = bound.get(variable);
            return value != null ? value : erasure(variable.getBounds()[0], bound);
        }
        if (type instanceof WildcardType wildcard) {
            return erasure(wildcard.getUpperBounds()[0], bound);
        }
        return Object.class;
    }

    private static Class<?> boxed(Class<?> type) {
        if (type.isPrimitive()) {
            throw new IllegalArgumentException(type + " is primitive: messages are objects, use its wrapper class");
        }
        return type;
    }

    private static void requireNonNull(Object value, String what) {
        if (value == null) {
            throw new IllegalArgumentException(what + " must not be null");
        }
    }
}
