package dev.flux.serialization;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flux.FluxException;
import dev.flux.Metadata;
import dev.flux.RecordedEvent;

import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * The allow-list of event classes and their type names. Deserialization only ever creates classes
 * registered here: a type name read from a store or a feed selects a registered class, never a class
 * to load. Each name maps to one class and each class to one name; the default name is the class's
 * simple name.
 *
 * <p>A generic event class whose fields depend on its type variables ({@code record Wrapped<T>(T value)})
 * is refused: an event's JSON does not record type arguments, so a {@code Wrapped<Money>} would be read
 * back with a map where the {@code Money} was and fail in its handler, after it was stored. A subclass
 * that binds the variables ({@code class MoneyWrapped extends Wrapped<Money>}) is accepted, and so are
 * fields of generic types without type variables ({@code List<Money>}).
 *
 * <p>{@link dev.flux.Repository} registers the parameter types of an aggregate's handlers; register
 * other classes (events read by projections, say) by hand. Thread-safe: lookups are lock-free,
 * registrations take this object's lock, and a lookup sees a registration whole or not at all.
 *
 * <p><b>Evolving events.</b> Each type has a schema version: 1, or what its class's
 * {@link SchemaVersion} says, or what {@link #register(String, Class, int)} gives. Events are written
 * with it (in the {@code schema_version} metadata, left out for 1) and read back through the
 * upcasters registered here, one version at a time, until they reach the current version:
 *
 * <pre>{@code
 * types.upcaster("AccountCredited", 1, json -> json.put("currency", "EUR"));           // v1 -> v2: a new field
 * types.upcaster("AccountCredited", 2, json -> (ObjectNode) json.set("amount", json.remove("value"))); // v2 -> v3: a rename
 * types.renamingUpcaster("MoneyMoved", 1, json -> json.get("value").asLong() < 0     // one type split in two, each at v2
 *         ? new Upcasted("AccountDebited", json.objectNode().put("amount", -json.get("value").asLong()))
 *         : new Upcasted("AccountCredited", json.put("currency", "EUR")));           // the v2 shape: the v2 -> v3 upcaster follows
 * }</pre>
 *
 * A renaming upcaster gives the JSON of the next version of the type it names, which that type's upcasters then
 * take on: above, a credit split out of {@code MoneyMoved} is AccountCredited's version 2 shape ({@code value},
 * {@code currency}), which its upcaster from 2 renames. Had it given the version 3 shape ({@code amount}), that
 * upcaster would have set {@code amount} to JSON null, read as 0.
 *
 * An event stored at a version newer than the code knows, or older without an upcaster, fails to
 * decode with a clear {@link EventDecodingException}.
 */
public final class EventTypes {
    /*
     * A registration is one immutable value in each map, so a lock-free lookup never finds a class's name
     * without its version, or a name's version without its class, while another thread is registering it.
     */
    private final Map<String, Registration> byName = new ConcurrentHashMap<>();
    private final Map<Class<?>, Registration> byClass = new ConcurrentHashMap<>();
    private final Map<String, Function<ObjectNode, Upcasted>> upcasters = new ConcurrentHashMap<>();
    private final Set<String> upcastTypes = ConcurrentHashMap.newKeySet();
    /** The highest version an upcaster reads of each type upcasters read. */
    private final Map<String, Integer> highestUpcast = new ConcurrentHashMap<>();
    /** The registered types no upcaster reads, so that decoding their events takes one lookup. */
    private final Map<String, Plain> plainByName = new ConcurrentHashMap<>();
    private final Object registrationLock = new Object();
    /** How many upcasters are registered: serializers that cache what upcasters read look again when it moves. */
    private volatile int upcasterCount;

    private record Registration(String name, Class<?> eventClass, int schemaVersion) {
    }

    /** An empty allow-list. */
    public EventTypes() {
    }

    /**
     * An allow-list of these classes under their simple names.
     *
     * @throws IllegalArgumentException when the array or a class in it is null, or {@link #register(Class)} refuses a class
     */
    public static EventTypes of(Class<?>... eventClasses) {
        if (eventClasses == null) {
            throw new IllegalArgumentException("eventClasses must not be null");
        }
        for (int i = 0; i < eventClasses.length; i++) {
            if (eventClasses[i] == null) {
                throw new IllegalArgumentException("eventClasses[" + i + "] must not be null");
            }
        }
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
     * @throws IllegalArgumentException when the class is null, abstract, an interface, or generic with
     *                                  fields whose type depends on its type variables (the message names
     *                                  them), or the name or the class is already registered otherwise
     */
    public EventTypes register(Class<?> eventClass) {
        requireEventClass(eventClass);
        return register(eventClass.getSimpleName(), eventClass);
    }

    /**
     * Registers {@code eventClass} under {@code name}.
     *
     * @throws IllegalArgumentException as {@link #register(Class)}, or when the name is null or blank
     */
    public EventTypes register(String name, Class<?> eventClass) {
        requireEventClass(eventClass);
        SchemaVersion annotated = eventClass.getAnnotation(SchemaVersion.class);
        return register(name, eventClass, annotated == null ? 1 : annotated.value());
    }

    /**
     * Registers {@code eventClass} under {@code name} at schema version {@code schemaVersion}.
     *
     * @throws IllegalArgumentException as {@link #register(String, Class)}, when the version is below 1,
     *                                  or the class is already registered at another version
     */
    public EventTypes register(String name, Class<?> eventClass, int schemaVersion) {
        if (schemaVersion < 1) {
            throw new IllegalArgumentException("schema version of '" + name + "' must be >= 1, was " + schemaVersion);
        }
        requireEventClass(eventClass);
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("type name for " + eventClass.getName() + " must not be null or blank");
        }
        if (eventClass.isInterface() || eventClass.isPrimitive() || eventClass.isArray()
                || Modifier.isAbstract(eventClass.getModifiers())) {
            throw new IllegalArgumentException("event type '" + name + "' must be a concrete class, was " + eventClass.getName());
        }
        requireNoTypeVariableFields(name, eventClass);
        synchronized (registrationLock) {
            Registration existing = byName.get(name);
            Class<?> existingClass = existing == null ? null : existing.eventClass();
            Registration existingOfClass = byClass.get(eventClass);
            String existingName = existingOfClass == null ? null : existingOfClass.name();
            if (existingClass == eventClass && name.equals(existingName)) {
                int existingVersion = existing.schemaVersion();
                if (existingVersion != schemaVersion) {
                    throw new IllegalArgumentException("event type '" + name + "' is registered at schema version "
                            + existingVersion + ", cannot register it at " + schemaVersion + " too");
                }
                return this;
            }
            if (existingClass != null) {
                throw new IllegalArgumentException("event type name '" + name + "' is already registered for "
                        + existingClass.getName() + ", cannot register it for " + eventClass.getName() + " too: register "
                        + eventClass.getSimpleName() + " under a name of its own first (EventTypes.register(\"<name>\", "
                        + eventClass.getSimpleName() + ".class)), which its events are then stored and read under");
            }
            if (existingName != null) {
                throw new IllegalArgumentException(eventClass.getName() + " is already registered as event type '"
                        + existingName + "', cannot register it as '" + name + "' too: a class has one type name (events"
                        + " stored under another are read through a renamingUpcaster from that name)");
            }
            Registration registration = new Registration(name, eventClass, schemaVersion);
            byName.put(name, registration);
            if (!upcastTypes.contains(name)) {
                plainByName.put(name, new Plain(eventClass, schemaVersion));
            }
            byClass.put(eventClass, registration);
        }
        return this;
    }

    /**
     * Refuses a class with fields (its superclasses' included) whose declared type depends on a type
     * variable the class leaves unbound: the JSON holds no type arguments, so Jackson reads such a field
     * back as maps and lists, or as the variable's bound, never as the type argument the event was written with.
     */
    private static void requireNoTypeVariableFields(String name, Class<?> eventClass) {
        List<String> fields = new ArrayList<>();
        Class<?> generic = null;    // the class that declares the first such field
        Set<TypeVariable<?>> bound = Set.of();
        for (Class<?> declaring = eventClass; declaring != null && declaring != Object.class; ) {
            for (Field field : declaring.getDeclaredFields()) {
                int modifiers = field.getModifiers();
                JsonIgnore ignore = field.getAnnotation(JsonIgnore.class);
                if (Modifier.isStatic(modifiers) || Modifier.isTransient(modifiers) || field.isSynthetic()
                        || ignore != null && ignore.value()) {
                    continue;
                }
                if (dependsOnUnbound(field.getGenericType(), bound)) {
                    fields.add(declaring.getSimpleName() + "." + field.getName() + " (" + field.getGenericType().getTypeName() + ")");
                    generic = generic == null ? declaring : generic;
                }
            }
            Class<?> superclass = declaring.getSuperclass();
            Set<TypeVariable<?>> superBound = new HashSet<>();
            if (declaring.getGenericSuperclass() instanceof ParameterizedType parameterized) {
                TypeVariable<?>[] variables = superclass.getTypeParameters();
                Type[] arguments = parameterized.getActualTypeArguments();
                for (int i = 0; i < variables.length; i++) {
                    if (!dependsOnUnbound(arguments[i], bound)) {
                        superBound.add(variables[i]);
                    }
                }
            }
            bound = superBound;
            declaring = superclass;
        }
        if (!fields.isEmpty()) {
            int variables = generic.getTypeParameters().length;
            String subclass = generic.isRecord() || variables == 0 ? ""
                    : " (or a subclass that binds the variables: class Money" + generic.getSimpleName() + " extends "
                    + generic.getSimpleName() + "<" + String.join(", ", Collections.nCopies(variables, "Money")) + ">)";
            throw new IllegalArgumentException("event type '" + name + "' cannot be registered: " + eventClass.getName()
                    + " has fields whose type depends on a type variable: " + String.join(", ", fields)
                    + ". An event's JSON does not record type arguments, so what those fields held (a Money, say) would be"
                    + " stored and then read back as a map (or as the variable's bound), and fail the event's handler on"
                    + " every load. Register one concrete class per payload type instead" + subclass + "; for a field that holds"
                    + " one of several classes, declare it of an interface or abstract type annotated with @JsonTypeInfo"
                    + " and @JsonSubTypes");
        }
    }

    /** Whether {@code type} is or contains a type variable not in {@code bound}. */
    private static boolean dependsOnUnbound(Type type, Set<TypeVariable<?>> bound) {
        if (type instanceof TypeVariable<?> variable) {
            return !bound.contains(variable);
        }
        if (type instanceof ParameterizedType parameterized) {
            for (Type argument : parameterized.getActualTypeArguments()) {
                if (dependsOnUnbound(argument, bound)) {
                    return true;
                }
            }
            return parameterized.getOwnerType() != null && dependsOnUnbound(parameterized.getOwnerType(), bound);
        }
        if (type instanceof GenericArrayType array) {
            return dependsOnUnbound(array.getGenericComponentType(), bound);
        }
        if (type instanceof WildcardType wildcard) {
            for (Type limit : wildcard.getUpperBounds()) {
                if (dependsOnUnbound(limit, bound)) {
                    return true;
                }
            }
            for (Type limit : wildcard.getLowerBounds()) {
                if (dependsOnUnbound(limit, bound)) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The type name of {@code eventClass}: the one it is registered under, or, when it is not
     * registered yet, its simple name, under which it is registered now. What repositories,
     * subscriptions and projectors do with the classes their handlers take.
     *
     * @throws IllegalArgumentException as {@link #register(Class)}
     */
    public String nameOrRegister(Class<?> eventClass) {
        requireEventClass(eventClass);
        Registration registration = byClass.get(eventClass);
        return registration != null ? registration.name() : register(eventClass).nameOf(eventClass);
    }

    /**
     * The type name of a registered class.
     *
     * @throws FluxException            when the class is not registered
     * @throws IllegalArgumentException when the class is null
     */
    public String nameOf(Class<?> eventClass) {
        return registered(eventClass).name();
    }

    private Registration registered(Class<?> eventClass) {
        requireEventClass(eventClass);
        Registration registration = byClass.get(eventClass);
        if (registration == null) {
            throw new FluxException("Event class " + eventClass.getName()
                    + " is not registered in EventTypes: register it, or add a handler for it to the aggregate (a handler"
                    + " taking a superclass of it registers that superclass, not it)");
        }
        return registration;
    }

    /**
     * The class registered under {@code name}, if any.
     *
     * @throws IllegalArgumentException when the name is null or blank
     */
    public Optional<Class<?>> classOf(String name) {
        Registration registration = byName.get(requireName(name, "name"));
        return registration == null ? Optional.empty() : Optional.of(registration.eventClass());
    }

    /**
     * The current schema version of a registered class.
     *
     * @throws FluxException            when the class is not registered
     * @throws IllegalArgumentException when the class is null
     */
    public int schemaVersionOf(Class<?> eventClass) {
        return registered(eventClass).schemaVersion();
    }

    /**
     * Registers how JSON stored as {@code type} at schema version {@code fromVersion} becomes version
     * {@code fromVersion + 1} of the same type. {@code change} may modify and return its argument.
     *
     * @throws IllegalArgumentException when an argument is null or blank, the version is below 1, or
     *                                  that type and version already have an upcaster
     */
    public EventTypes upcaster(String type, int fromVersion, UnaryOperator<ObjectNode> change) {
        if (change == null) {
            throw new IllegalArgumentException("change must not be null");
        }
        return renamingUpcaster(type, fromVersion, json -> new Upcasted(type, change.apply(json)));
    }

    /**
     * Registers how JSON stored as {@code type} at schema version {@code fromVersion} becomes version
     * {@code fromVersion + 1}, under the type name the upcaster returns: a rename, or a split of one
     * type into several. The JSON returned is read as version {@code fromVersion + 1} of the type it names
     * (a rename from version 1 gives version 2), so that type's class must be registered at that version or
     * above, with upcasters onward from it.
     *
     * @throws IllegalArgumentException as {@link #upcaster}
     */
    public EventTypes renamingUpcaster(String type, int fromVersion, Function<ObjectNode, Upcasted> upcaster) {
        if (type == null || type.isBlank() || upcaster == null) {
            throw new IllegalArgumentException("type and upcaster must not be null or blank");
        }
        if (fromVersion < 1) {
            throw new IllegalArgumentException("fromVersion of an upcaster for '" + type + "' must be >= 1, was " + fromVersion);
        }
        synchronized (registrationLock) {
            if (upcasters.putIfAbsent(type + '\u0000' + fromVersion, upcaster) != null) {
                throw new IllegalArgumentException("'" + type + "' already has an upcaster from version " + fromVersion);
            }
            highestUpcast.merge(type, fromVersion, Math::max);
            upcastTypes.add(type);
            plainByName.remove(type);
            upcasterCount++;
        }
        return this;
    }

    /** How many upcasters are registered; it only grows, after each is in place. */
    int upcasterCount() {
        return upcasterCount;
    }

    /** A registered type that no upcaster reads: its class and current schema version. */
    record Plain(Class<?> eventClass, int schemaVersion) {
    }

    /**
     * The class and current version of {@code name} when it is registered and no upcaster reads it,
     * else null. The same instance until an upcaster for the type is added.
     */
    Plain plain(String name) {
        return plainByName.get(name);
    }

    /**
     * Whether some upcaster reads events stored as {@code type} (which may no longer be registered itself).
     *
     * @throws IllegalArgumentException when the type is null or blank
     */
    public boolean hasUpcasters(String type) {
        return upcastTypes.contains(requireName(type, "type"));
    }

    /**
     * Whether an event stored as {@code type} at {@code storedVersion} must pass {@link #upcast} before decoding:
     * an upcaster reads that version, or it is not the current version of the type: not the registered one, or,
     * for a type not registered here, below a version an upcaster reads (one the chain skips, which
     * {@link #upcast} then reports).
     *
     * @throws IllegalArgumentException when the type is null or blank, or the version is below 1
     */
    public boolean needsUpcast(String type, int storedVersion) {
        requireName(type, "type");
        requireStoredVersion(type, storedVersion);
        if (upcasters.containsKey(type + '\u0000' + storedVersion)) {
            return true;
        }
        Registration current = byName.get(type);
        if (current != null) {
            return current.schemaVersion() != storedVersion;
        }
        // Not registered here (renamed away, or a class only the writer has): below a version an upcaster reads,
        // it is not the type's current version, so a gap in the chain is reported rather than the event passed.
        Integer highest = highestUpcast.get(type);
        return highest != null && storedVersion < highest;
    }

    /**
     * Whether {@code recorded} must pass {@link #upcast} before decoding: {@link #needsUpcast(String, int)} at
     * the schema version its metadata names ({@link Metadata#SCHEMA_VERSION}; 1 without). True when that
     * is no version number, so that decoding it says what is wrong.
     *
     * @throws IllegalArgumentException when {@code recorded} is null
     */
    public boolean needsUpcast(RecordedEvent recorded) {
        if (recorded == null) {
            throw new IllegalArgumentException("recorded event must not be null");
        }
        int stored = storedVersion(recorded);
        return stored == 0 || needsUpcast(recorded.type(), stored);
    }

    /**
     * Whether {@code recorded} was stored at a schema version newer than this code knows: its type is registered
     * here at a lower version, and every upcaster of the type reads a version below that one. That is an event
     * a newer release stored, read by an older one (during a rolling deploy, or after a rollback). It can be
     * neither upcast nor decoded here; a reader that only passes events on, as a feed does, may pass it on as
     * stored, as it passes on a type it does not know. While an upcaster reads the type at or above its
     * registered version, its class's version was lowered by mistake, and no event of it is newer than known.
     *
     * @throws IllegalArgumentException when {@code recorded} is null
     */
    public boolean isNewerThanKnown(RecordedEvent recorded) {
        if (recorded == null) {
            throw new IllegalArgumentException("recorded event must not be null");
        }
        Registration current = byName.get(recorded.type());
        return current != null && storedVersion(recorded) > current.schemaVersion()
                && highestUpcast.getOrDefault(recorded.type(), 0) < current.schemaVersion();
    }

    /**
     * The schema version {@code recorded} was stored at, from its metadata ({@link Metadata#SCHEMA_VERSION}; 1
     * without), or 0 when the metadata holds no version number of at least 1.
     */
    static int storedVersion(RecordedEvent recorded) {
        String text = recorded.metadata().get(Metadata.SCHEMA_VERSION);
        if (text == null) {
            return 1;
        }
        try {
            return Math.max(0, Integer.parseInt(text));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /**
     * Brings JSON stored as {@code type} at {@code storedVersion} to the current version of the type
     * it ends up as, upcaster by upcaster.
     *
     * @throws IllegalStateException    naming the problem when it was stored at a version newer than the
     *                                  code knows, no upcaster continues the chain, the chain goes past the
     *                                  current version (an upcaster from a version the code still writes, or a
     *                                  rename to a type whose class is registered at a lower version than the
     *                                  chain reaches), or the type it ends as is not registered
     * @throws IllegalArgumentException when the type is null or blank, the version below 1 or the data null
     */
    public Upcasted upcast(String type, int storedVersion, ObjectNode data) {
        requireName(type, "type");
        requireStoredVersion(type, storedVersion);
        if (data == null) {
            throw new IllegalArgumentException("data to upcast from '" + type + "' v" + storedVersion + " must not be null");
        }
        String name = type;
        int version = storedVersion;
        ObjectNode json = data;
        Function<ObjectNode, Upcasted> next;
        while ((next = upcasters.get(name + '\u0000' + version)) != null) {
            Upcasted step;
            try {
                step = next.apply(json);
            } catch (RuntimeException e) {
                throw new IllegalStateException("the upcaster of '" + name + "' from version " + version + " failed: " + e, e);
            }
            if (step == null) {
                throw new IllegalStateException("the upcaster of '" + name + "' from version " + version + " returned null");
            }
            name = step.type();
            json = step.data();
            version++;
        }
        Registration registration = byName.get(name);
        if (registration == null) {
            throw new IllegalStateException("upcast from '" + type + "' v" + storedVersion + " ends as '" + name + "' v" + version
                    + ", which is not registered (registered: " + names() + ")");
        }
        int current = registration.schemaVersion();
        if (version > current && !name.equals(type)) {
            // A renaming upcaster gives the version after the one it reads, of the type it names: versions of the old
            // type say nothing of the new one's, so the event is not newer than the code; the chain is past its class.
            throw new IllegalStateException("upcast from '" + type + "' v" + storedVersion + " ends as '" + name + "' v" + version
                    + ", past the version this code reads it at (" + current + "): a renaming upcaster gives the version after"
                    + " the one it reads, of the type it names, so register " + registration.eventClass().getName() + " at schema"
                    + " version " + version + " (@SchemaVersion(" + version + ")), with an upcaster of '" + name + "' from"
                    + " each version below it that events are stored at");
        }
        if (version > current && storedVersion <= current) {
            throw new IllegalStateException("upcast from '" + type + "' v" + storedVersion + " ends as '" + name + "' v" + version
                    + ", past the version this code reads (" + current + "): an upcaster on the way is registered from a version"
                    + " the code still writes; raise the class's schema version with it, or remove it");
        }
        if (version > current) {
            Integer highest = highestUpcast.get(name);
            String lowered = highest == null || highest < current ? ""
                    : "; or, as upcasters here read '" + name + "' up to version " + highest + ", its class's @SchemaVersion was"
                    + " lowered by mistake: raise it back to " + (highest + 1);
            throw new IllegalStateException("stored at schema version " + version + " of '" + name
                    + "', newer than this code knows (version " + current + "): deploy the newer event classes first" + lowered);
        }
        if (version < current) {
            throw new IllegalStateException("stored at schema version " + version + " of '" + name + "', but the code reads version "
                    + current + " and no upcaster from version " + version + " is registered");
        }
        return new Upcasted(name, json);
    }

    /**
     * Whether {@code name} is registered.
     *
     * @throws IllegalArgumentException when the name is null or blank
     */
    public boolean contains(String name) {
        return byName.containsKey(requireName(name, "name"));
    }

    /** The registered type names; a snapshot. */
    public Set<String> names() {
        return Set.copyOf(byName.keySet());
    }

    private static void requireEventClass(Class<?> eventClass) {
        if (eventClass == null) {
            throw new IllegalArgumentException("eventClass must not be null");
        }
    }

    private static String requireName(String name, String what) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException(what + " must be a type name, not null or blank, was "
                    + (name == null ? "null" : "'" + name + "'"));
        }
        return name;
    }

    private static void requireStoredVersion(String type, int storedVersion) {
        if (storedVersion < 1) {
            throw new IllegalArgumentException("storedVersion of '" + type + "' must be a schema version >= 1, was "
                    + storedVersion);
        }
    }
}
