package dev.flux;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The event handlers of one aggregate class: for each event class, the method {@code handle<SimpleName>}
 * taking it, found once (on the class or a superclass, any visibility) and kept as a method handle.
 * Thread-safe: the table is a concurrent map, filled when the class is first seen and on the first
 * event of a subclass of a handled type.
 */
final class Handlers {
    private static final MethodType DISPATCH = MethodType.methodType(void.class, Aggregate.class, Object.class);
    private static final ClassValue<Handlers> BY_AGGREGATE = new ClassValue<>() {
        @Override
        protected Handlers computeValue(Class<?> type) {
            return new Handlers(type);
        }
    };

    private final Class<?> aggregateClass;
    private final Map<Class<?>, MethodHandle> byEventClass = new ConcurrentHashMap<>();
    private final Set<Class<?>> declaredEventClasses;

    private Handlers(Class<?> aggregateClass) {
        this.aggregateClass = aggregateClass;
        Set<Class<?>> declared = new LinkedHashSet<>();
        for (Class<?> c = aggregateClass; c != null && c != Aggregate.class && c != Object.class; c = c.getSuperclass()) {
            for (Method method : c.getDeclaredMethods()) {
                if (isHandler(method) && !byEventClass.containsKey(method.getParameterTypes()[0])) {
                    Class<?> eventClass = method.getParameterTypes()[0];
                    byEventClass.put(eventClass, handleOf(method));
                    declared.add(eventClass);
                }
            }
        }
        this.declaredEventClasses = Collections.unmodifiableSet(declared);
    }

    static Handlers of(Class<?> aggregateClass) {
        return BY_AGGREGATE.get(aggregateClass);
    }

    static String methodNameFor(Class<?> eventClass) {
        return "handle" + eventClass.getSimpleName();
    }

    /** The event classes this aggregate's handlers take, subclass handlers first. */
    Set<Class<?>> eventClasses() {
        return declaredEventClasses;
    }

    void apply(Aggregate aggregate, Object event) {
        MethodHandle handler = byEventClass.get(event.getClass());
        if (handler == null) {
            handler = byEventClass.computeIfAbsent(event.getClass(), this::findByName);
        }
        try {
            handler.invokeExact(aggregate, event);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new FluxException("Handler " + methodNameFor(event.getClass()) + " of " + aggregateClass.getName()
                    + " threw a checked exception", e);
        }
    }

    private static boolean isHandler(Method method) {
        return method.getParameterCount() == 1
                && !Modifier.isStatic(method.getModifiers())
                && !method.isBridge()
                && !method.isSynthetic()
                && method.getName().equals(methodNameFor(method.getParameterTypes()[0]));
    }

    /** For an event class with no exact entry: a handler named after it whose parameter accepts it. */
    private MethodHandle findByName(Class<?> eventClass) {
        String name = methodNameFor(eventClass);
        for (Class<?> c = aggregateClass; c != null && c != Aggregate.class && c != Object.class; c = c.getSuperclass()) {
            for (Method method : c.getDeclaredMethods()) {
                if (method.getName().equals(name) && method.getParameterCount() == 1
                        && !Modifier.isStatic(method.getModifiers())
                        && method.getParameterTypes()[0].isAssignableFrom(eventClass)) {
                    return handleOf(method);
                }
            }
        }
        throw new MissingHandlerException(aggregateClass, eventClass);
    }

    private static MethodHandle handleOf(Method method) {
        try {
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(method.getDeclaringClass(), MethodHandles.lookup());
            return lookup.unreflect(method).asType(DISPATCH);
        } catch (IllegalAccessException e) {
            throw new FluxException("Cannot access handler " + method + ": if the aggregate is in a named module, open its"
                    + " package to dev.flux.core", e);
        }
    }
}
