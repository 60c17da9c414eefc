package dev.flux.bus;

import dev.flux.FluxException;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A synchronous, in-process bus for events, commands and queries. Every call runs the listeners or
 * the handler on the caller's thread before it returns.
 *
 * <ul>
 *   <li><b>Events</b>: {@link #publish} calls every listener {@linkplain #subscribe subscribed} to the
 *   event's class or to a supertype of it ({@code Object} gets everything), in the order they
 *   subscribed. A listener that throws stops the rest, and the exception reaches the publisher. A
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
 * packages never meet. The bus is thread-safe; subscribing and registering may happen while messages
 * flow. Each {@code subscribe}/{@code register} returns a {@link Runnable} that undoes that one call
 * (the same listener subscribed twice is two subscriptions); running it again does nothing.
 */
public final class Bus {
    private record Listener(Class<?> type, Consumer<Object> consumer) {
    }

    /** {@code answers}: registered with {@link #registerQuery}, so {@link #ask} may take it. */
    private record Handler(Function<Object, Object> function, boolean answers) {
    }

    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final Map<Class<?>, Handler> handlers = new ConcurrentHashMap<>();
    private final Object registration = new Object();

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
        Listener entry = new Listener(boxed(eventClass), (Consumer<Object>) listener);
        listeners.add(entry);
        return () -> listeners.removeIf(subscribed -> subscribed == entry);    // by identity: equal entries are other subscriptions
    }

    /**
     * Calls every listener of the event's class and its supertypes, in subscription order. A listener's
     * exception stops the others and propagates.
     *
     * @throws IllegalArgumentException when the event is null
     */
    public void publish(Object event) {
        requireNonNull(event, "event");
        for (Listener listener : listeners) {
            if (listener.type().isInstance(event)) {
                listener.consumer().accept(event);
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
        return add(commandClass, new Handler(command -> {
            @SuppressWarnings("unchecked") C typed = (C) command;
            handler.accept(typed);
            return null;
        }, false));
    }

    /**
     * Makes {@code handler} the one that answers queries of {@code queryClass}.
     *
     * @return what to run to unregister it
     * @throws IllegalStateException    when the class already has a handler
     * @throws IllegalArgumentException when either is null
     */
    public <R, Q extends Query<R>> Runnable registerQuery(Class<Q> queryClass, Function<? super Q, ? extends R> handler) {
        requireNonNull(queryClass, "queryClass");
        requireNonNull(handler, "handler");
        return add(queryClass, new Handler(query -> {
            @SuppressWarnings("unchecked") Q typed = (Q) query;
            return handler.apply(typed);
        }, true));
    }

    /**
     * Runs the handler of the command's class.
     *
     * @throws HandlerNotFoundException when no handler takes it
     * @throws FluxException            when handlers of several unrelated supertypes would take it
     * @throws IllegalArgumentException when the command is null
     */
    public void dispatch(Object command) {
        requireNonNull(command, "command");
        handlerFor(command.getClass(), false).apply(command);
    }

    /**
     * Runs the query handler ({@link #registerQuery}) of the query's class, or of its most specific
     * supertype that has one, and returns its answer. A command handler ({@link #register}) gives no
     * answer, so it never answers a query, not even one of {@code Object} that takes every command.
     *
     * @throws HandlerNotFoundException when no query handler takes it
     * @throws FluxException            when query handlers of several unrelated supertypes would take it
     * @throws IllegalArgumentException when the query is null
     */
    @SuppressWarnings("unchecked")
    public <R> R ask(Query<R> query) {
        requireNonNull(query, "query");
        return (R) handlerFor(query.getClass(), true).apply(query);
    }

    private Runnable add(Class<?> messageClass, Handler handler) {
        boxed(messageClass);
        synchronized (registration) {
            if (handlers.containsKey(messageClass)) {
                throw new IllegalStateException(messageClass.getName() + " already has a handler on this bus;"
                        + " unregister it first (each command or query class has exactly one)");
            }
            handlers.put(messageClass, handler);
        }
        return () -> handlers.remove(messageClass, handler);
    }

    /** The handler of {@code messageClass} or its most specific supertype; of a query handler alone when {@code answering}. */
    private Function<Object, Object> handlerFor(Class<?> messageClass, boolean answering) {
        Handler exact = handlers.get(messageClass);
        if (exact != null && (exact.answers() || !answering)) {
            return exact.function();
        }
        Map<Class<?>, Handler> candidates = new HashMap<>();
        for (Map.Entry<Class<?>, Handler> entry : handlers.entrySet()) {
            if (entry.getKey().isAssignableFrom(messageClass) && (entry.getValue().answers() || !answering)) {
                candidates.put(entry.getKey(), entry.getValue());
            }
        }
        if (candidates.isEmpty()) {
            throw answering ? noQueryHandler(messageClass) : new HandlerNotFoundException(messageClass);
        }
        Class<?> best = null;
        for (Class<?> candidate : candidates.keySet()) {
            if (best == null || best.isAssignableFrom(candidate)) {
                best = candidate;
            }
        }
        for (Class<?> candidate : candidates.keySet()) {
            if (!candidate.isAssignableFrom(best)) {
                throw new FluxException(messageClass.getName() + " is handled by " + (answering ? "query " : "")
                        + "handlers of several unrelated supertypes " + candidates.keySet() + "; register one for "
                        + messageClass.getName() + " itself");
            }
        }
        return candidates.get(best).function();
    }

    /** No query handler takes {@code queryClass}; the message names a command handler that does, which cannot answer. */
    private HandlerNotFoundException noQueryHandler(Class<?> queryClass) {
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
