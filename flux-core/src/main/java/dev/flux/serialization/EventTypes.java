package dev.flux.serialization;

import dev.flux.FluxException;

import java.lang.reflect.Modifier;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The allow-list of event classes and their type names. Deserialization only ever creates classes
 * registered here: a type name read from a store or a feed selects a registered class, never a class
 * to load. Each name maps to one class and each class to one name; the default name is the class's
 * simple name.
 *
 * <p>{@link dev.flux.Repository} registers the parameter types of an aggregate's handlers; register
 * other classes (events read by projections, say) by hand. Thread-safe: lookups are lock-free,
 * registrations take this object's lock.
 */
public final class EventTypes {
    private final Map<String, Class<?>> classesByName = new ConcurrentHashMap<>();
    private final Map<Class<?>, String> namesByClass = new ConcurrentHashMap<>();
    private final Object registrationLock = new Object();

    /** An empty allow-list. */
    public EventTypes() {
    }

    /** An allow-list of these classes under their simple names. */
    public static EventTypes of(Class<?>... eventClasses) {
        EventTypes types = new EventTypes();
        for (Class<?> eventClass : eventClasses) {
            types.register(eventClass);
        }
        return types;
    }

    /**
     * Registers {@code eventClass} under its simple name. Registering a class again under the same
     * name does nothing.
     *
     * @throws IllegalArgumentException when the class is null, abstract or an interface, or the name or
     *                                  the class is already registered otherwise
     */
    public EventTypes register(Class<?> eventClass) {
        if (eventClass == null) {
            throw new IllegalArgumentException("eventClass must not be null");
        }
        return register(eventClass.getSimpleName(), eventClass);
    }

    /**
     * Registers {@code eventClass} under {@code name}.
     *
     * @throws IllegalArgumentException as {@link #register(Class)}, or when the name is blank
     */
    public EventTypes register(String name, Class<?> eventClass) {
        if (eventClass == null) {
            throw new IllegalArgumentException("eventClass must not be null");
        }
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("type name for " + eventClass.getName() + " must not be null or blank");
        }
        if (eventClass.isInterface() || eventClass.isPrimitive() || eventClass.isArray()
                || Modifier.isAbstract(eventClass.getModifiers())) {
            throw new IllegalArgumentException("event type '" + name + "' must be a concrete class, was " + eventClass.getName());
        }
        synchronized (registrationLock) {
            Class<?> existingClass = classesByName.get(name);
            String existingName = namesByClass.get(eventClass);
            if (existingClass == eventClass && name.equals(existingName)) {
                return this;
            }
            if (existingClass != null) {
                throw new IllegalArgumentException("event type name '" + name + "' is already registered for "
                        + existingClass.getName() + ", cannot register it for " + eventClass.getName());
            }
            if (existingName != null) {
                throw new IllegalArgumentException(eventClass.getName() + " is already registered as event type '"
                        + existingName + "', cannot register it as '" + name + "' too");
            }
            namesByClass.put(eventClass, name);
            classesByName.put(name, eventClass);
        }
        return this;
    }

    /**
     * The type name of {@code eventClass}: the one it is registered under, or, when it is not
     * registered yet, its simple name, under which it is registered now. What repositories,
     * subscriptions and projectors do with the classes their handlers take.
     *
     * @throws IllegalArgumentException as {@link #register(Class)}
     */
    public String nameOrRegister(Class<?> eventClass) {
        if (eventClass == null) {
            throw new IllegalArgumentException("eventClass must not be null");
        }
        String name = namesByClass.get(eventClass);
        return name != null ? name : register(eventClass).nameOf(eventClass);
    }

    /**
     * The type name of a registered class.
     *
     * @throws FluxException when the class is not registered
     */
    public String nameOf(Class<?> eventClass) {
        String name = namesByClass.get(eventClass);
        if (name == null) {
            throw new FluxException("Event class " + eventClass.getName()
                    + " is not registered in EventTypes: register it, or add a handler for it to the aggregate");
        }
        return name;
    }

    /** The class registered under {@code name}, if any. */
    public Optional<Class<?>> classOf(String name) {
        return name == null ? Optional.empty() : Optional.ofNullable(classesByName.get(name));
    }

    /** Whether {@code name} is registered. */
    public boolean contains(String name) {
        return name != null && classesByName.containsKey(name);
    }

    /** The registered type names; a snapshot. */
    public Set<String> names() {
        return Set.copyOf(classesByName.keySet());
    }
}
