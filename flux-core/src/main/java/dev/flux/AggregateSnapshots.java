package dev.flux;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.type.TypeBindings;
import com.fasterxml.jackson.databind.type.TypeFactory;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.SchemaVersion;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotPolicy;
import dev.flux.snapshot.SnapshotStore;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Takes and restores snapshots of one aggregate class for a {@link Repository}. The state is every
 * non-static, non-transient field the class and its superclasses up to {@link Aggregate} declare,
 * each written by Jackson under {@code DeclaringClass.field} (the declaring class's full name where a
 * subclass has the same simple name) and read back as its declared type, with
 * the superclasses' type variables bound as the class binds them. Decimals come back exactly. A
 * {@link Collection} or {@link Map} field comes back as the class the fresh aggregate's field holds
 * when that is a public class or an {@link EnumSet} (a {@code LinkedHashSet} keeps its order, a
 * {@code TreeMap} stays sorted, an {@code EnumSet} in the order of its constants), else as Jackson's
 * default for the declared type. A field whose type is or holds {@link Object} (say
 * {@code Map<String, Object>} or {@code List<?>}) is refused, as its values would come back as other
 * classes. Before a snapshot is stored it is read back as a load would read it, and compared with the
 * aggregate (see {@link StateDifference}): a state that would come back otherwise (a subclass as the
 * declared class, a {@code TreeSet} nested in a map as a {@code HashSet}, a {@code TreeMap}'s comparator
 * lost, one object with non-final fields that two places share as two) is not stored, with a warning
 * naming where it differs.
 *
 * <p>The snapshot's type is the class name plus a fingerprint of those fields (names and types, and the
 * classes a new aggregate's collection and map fields start as), of
 * the fields of the non-JDK classes they reach (enum constants included), of the event classes the
 * handlers take (their names, schema versions and fields) and of the aggregate class's
 * {@link SchemaVersion}, so a snapshot taken before the class, a class it holds, or the way its events
 * decode changed is ignored rather than restored wrongly. The
 * state also names the event it was taken after (under {@code @event}, by id), so a snapshot of a
 * stream that was reset since is ignored, and deleted, even once the stream holds as many events again.
 *
 * <p>Thread-safe: the readers of collection classes are cached in concurrent maps.
 */
final class AggregateSnapshots {
    private static final System.Logger LOG = System.getLogger(AggregateSnapshots.class.getName());
    /** The key of the id of the event the state was taken after; no field's key starts with {@code @}. */
    private static final String EVENT_KEY = "@event";

    /** {@code readers} holds, by class, the readers of the collection classes a fresh aggregate's field held. */
    private record StateField(String key, Field field, JavaType type, ObjectReader reader, Map<Class<?>, ObjectReader> readers) {
    }

    private final SnapshotStore store;
    private final SnapshotPolicy policy;
    private final ObjectMapper mapper;
    private final ObjectReader stateReader;
    private final List<StateField> fields = new ArrayList<>();
    /** The index in {@link #fields} of each field's key. */
    private final Map<String, Integer> fieldIndex = new HashMap<>();
    private final String type;
    private final Supplier<? extends Aggregate> fresh;
    /**
     * Streams whose snapshot was due at a version but not stored (the state would not come back alike, or the
     * store failed), by that version: the next try waits as long as after a snapshot taken there, so that a
     * state that cannot be snapshotted is not written, read back and warned about on every save. Emptied whole
     * when it reaches {@link #MAX_NOT_TAKEN} streams, which at worst brings their tries forward.
     */
    private final Map<String, Long> notTaken = new ConcurrentHashMap<>();
    private static final int MAX_NOT_TAKEN = 10_000;

    /**
     * @param eventTypes   where the handled event classes are registered (their names and schema versions
     *                     join the fingerprint)
     * @param eventClasses the classes the aggregate's handlers take
     * @param fresh        makes a new aggregate of the class, whose fields' initial values say what classes
     *                     collections and maps are read back as
     */
    AggregateSnapshots(Class<? extends Aggregate> aggregateClass, SnapshotStore store, SnapshotPolicy policy, ObjectMapper mapper,
                       EventTypes eventTypes, Set<Class<?>> eventClasses, Supplier<? extends Aggregate> fresh) {
        this.store = store;
        this.policy = policy;
        this.mapper = mapper;
        this.fresh = fresh;
        this.stateReader = mapper.reader()
                .with(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .without(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES);
        TypeFactory types = mapper.getTypeFactory();
        JavaType aggregateType = types.constructType(aggregateClass);
        StringBuilder shape = new StringBuilder();
        Set<Class<?>> described = new HashSet<>();
        Set<String> keys = new HashSet<>();
        for (Class<?> c = aggregateClass; c != Aggregate.class; c = c.getSuperclass()) {
            TypeBindings bindings = aggregateType.findSuperType(c).getBindings();
            for (Field field : c.getDeclaredFields()) {
                if (!isState(field)) {
                    continue;
                }
                try {
                    field.setAccessible(true);
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException("cannot snapshot " + aggregateClass.getName() + ": field " + field
                            + " is not accessible (open its package to flux, or mark it transient)", e);
                }
                String key = c.getSimpleName() + "." + field.getName();
                if (!keys.add(key)) {       // a superclass of the same simple name: the JSON would hold the key twice
                    key = c.getName() + "." + field.getName();
                    keys.add(key);
                }
                JavaType javaType = types.resolveMemberType(field.getGenericType(), bindings);
                if (holdsObject(javaType)) {
                    throw new IllegalArgumentException("cannot snapshot " + aggregateClass.getName() + ": field " + key + " ("
                            + field.getGenericType().getTypeName() + ") holds java.lang.Object, whose values come back as other"
                            + " classes (a Long as an Integer, a record as a Map); give it a concrete type, or mark it transient");
                }
                fieldIndex.put(key, fields.size());
                fields.add(new StateField(key, field, javaType, stateReader.forType(javaType), new ConcurrentHashMap<>()));
                shape.append(key).append(':').append(field.getGenericType().getTypeName()).append(';');
                describeClassesIn(javaType, types, shape, described);
            }
        }
        // A collection or map is read back as the class a new aggregate's field holds: a snapshot of a TreeSet read into
        // a LinkedHashSet would keep the sorted order where a replay gives the insertion order.
        Aggregate sample;
        try {
            sample = fresh.get();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot snapshot " + aggregateClass.getName() + ": its no-argument constructor threw "
                    + e + ". A repository with snapshots makes one when it is built, to see the classes its collection and map"
                    + " fields start as (and one per snapshot taken, to read it back): let the constructor only set fields", e);
        }
        for (StateField f : fields) {
            Object initial;
            try {
                initial = f.field().get(sample);
            } catch (IllegalAccessException e) {
                throw new IllegalArgumentException("cannot snapshot " + aggregateClass.getName() + ": cannot read field " + f.key(), e);
            }
            if (initial instanceof Collection<?> || initial instanceof Map<?, ?>) {
                shape.append(f.key()).append(" starts as ").append(initial.getClass().getName()).append(';');
            }
        }
        SchemaVersion version = aggregateClass.getAnnotation(SchemaVersion.class);
        if (version != null) {
            if (version.value() < 1) {
                throw new IllegalArgumentException("cannot snapshot " + aggregateClass.getName() + ": its @SchemaVersion("
                        + version.value() + ") must be 1 or more (raise it when a handler changes what it makes of the same events)");
            }
            shape.append("@SchemaVersion:").append(version.value()).append(';');
        }
        // What replaying the events gives depends on how they decode too: their classes, names and schema versions
        // (a new upcaster comes with a new version).
        List<Class<?>> handled = new ArrayList<>(eventClasses);
        handled.sort(Comparator.comparing(Class::getName));
        for (Class<?> eventClass : handled) {
            shape.append("event ").append(eventTypes.nameOf(eventClass)).append(" v").append(eventTypes.schemaVersionOf(eventClass))
                    .append(':').append(eventClass.getName()).append(';');
            describeClassesIn(types.constructType(eventClass), types, shape, described);
        }
        this.type = aggregateClass.getName() + "#" + fingerprint(shape.toString());
    }

    /**
     * Restores {@code aggregate} from the stream's snapshot and returns the version to replay from:
     * the snapshot's version + 1, or 0 when there is no usable snapshot (nothing is changed then).
     * The event at the snapshot's version must be the one the snapshot was taken after (by id), which
     * guards against a snapshot of a stream that was since reset, also once the stream grew past it;
     * such a snapshot is deleted, whatever class took it. A snapshot taken after {@code atMost} is not used (nor
     * checked): the aggregate is wanted as it was at that version, before the snapshot.
     */
    long restore(Aggregate aggregate, String streamId, EventReader events, long atMost) {
        Optional<Snapshot> found;
        try {
            found = store.load(streamId);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, () -> "cannot load the snapshot of " + streamId + ", replaying every event: " + e, e);
            return 0;
        }
        if (found.isEmpty()) {
            return 0;
        }
        Snapshot snapshot = found.get();
        if (snapshot.version() > atMost) {
            return 0;
        }
        List<RecordedEvent> last = events.readStream(streamId, snapshot.version(), 1);
        if (last.isEmpty() || last.get(0).version() != snapshot.version()) {
            forgetStale(streamId, snapshot, "the stream has no event at that version");
            return 0;
        }
        // Whatever class took it: a stale snapshot is deleted, or under "the newer wins" it would keep this class's out.
        String takenAfter;
        try {
            takenAfter = eventIdIn(snapshot.data());
        } catch (IOException | RuntimeException e) {
            takenAfter = null;      // not known to be stale; unreadable, it is ignored below
        }
        UUID eventId = last.get(0).eventId();
        if (takenAfter != null && !takenAfter.equals(eventId.toString())) {
            forgetStale(streamId, snapshot, "it was taken after event " + takenAfter
                    + ", but the stream's event at that version is " + eventId);
            return 0;
        }
        if (!type.equals(snapshot.type())) {
            LOG.log(System.Logger.Level.INFO, () -> "ignoring the snapshot of " + streamId + "@" + snapshot.version()
                    + ": it was taken by " + snapshot.type() + ", this is " + type + " (the class changed); replaying every event");
            return 0;
        }
        List<Object> values;
        try {
            values = readFields(snapshot.data(), aggregate);
        } catch (IOException | IllegalAccessException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, () -> "ignoring the unreadable snapshot of " + streamId + "@" + snapshot.version()
                    + " (" + e.getMessage() + "); replaying every event");
            return 0;
        }
        try {
            for (int i = 0; i < fields.size(); i++) {
                fields.get(i).field().set(aggregate, values.get(i));
            }
        } catch (IllegalAccessException e) {
            throw new FluxException("cannot restore " + aggregate.getClass().getName() + " from its snapshot", e);
        }
        aggregate.restoredFromSnapshot(snapshot.version());
        return snapshot.version() + 1;
    }

    /** The id of the event {@code state} was taken after ({@link #EVENT_KEY}, written first), or null when it names none. */
    private String eventIdIn(byte[] state) throws IOException {
        try (JsonParser json = stateReader.createParser(state)) {
            if (json.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            while (json.nextToken() == JsonToken.FIELD_NAME) {
                String key = json.currentName();
                JsonToken value = json.nextToken();
                if (EVENT_KEY.equals(key)) {
                    return value == JsonToken.VALUE_STRING ? json.getText() : null;
                }
                json.skipChildren();
            }
            return null;
        }
    }

    /**
     * The fields' values in {@code state}, each read as {@code into}'s field (an aggregate not restored yet) says.
     * Read from the text, not through a tree, whose decimals would turn {@code -0.0} into {@code 0.0}.
     */
    private List<Object> readFields(byte[] state, Aggregate into) throws IOException, IllegalAccessException {
        Object[] values = new Object[fields.size()];
        boolean[] read = new boolean[fields.size()];
        boolean namesEvent = false;
        try (JsonParser json = stateReader.createParser(state)) {
            if (json.nextToken() != JsonToken.START_OBJECT) {
                throw notTheState();
            }
            while (json.nextToken() == JsonToken.FIELD_NAME) {
                String key = json.currentName();
                JsonToken value = json.nextToken();
                if (EVENT_KEY.equals(key)) {
                    if (namesEvent || value != JsonToken.VALUE_STRING) {
                        throw notTheState();
                    }
                    namesEvent = true;
                    continue;
                }
                Integer i = fieldIndex.get(key);
                if (i == null || read[i]) {
                    throw notTheState();
                }
                StateField f = fields.get(i);
                values[i] = readerFor(f, f.field().get(into)).readValue(json);
                read[i] = true;
            }
            if (json.currentToken() != JsonToken.END_OBJECT || json.nextToken() != null) {
                throw new IOException("the state has more after its object");
            }
        }
        for (int i = 0; i < read.length; i++) {
            if (!read[i]) {
                throw new IOException("the state has no field " + fields.get(i).key());
            }
        }
        if (!namesEvent) {
            throw notTheState();
        }
        return Arrays.asList(values);
    }

    private IOException notTheState() {
        return new IOException("the state does not hold exactly the event id '" + EVENT_KEY + "' and the fields " + keys());
    }

    /**
     * A snapshot whose version the stream does not hold with the event it was taken after: the stream was
     * reset, or restored from an older copy, since. Kept, it would be restored once the stream grew past
     * its version again, and under "the newer wins" it would keep the stream's true snapshots out until
     * then; so it is deleted (a true snapshot deleted in a race costs one full replay).
     */
    private void forgetStale(String streamId, Snapshot snapshot, String why) {
        LOG.log(System.Logger.Level.WARNING, () -> "ignoring and deleting the snapshot of " + streamId + "@"
                + snapshot.version() + ": " + why + " (the stream was reset since?); replaying every event");
        try {
            store.delete(streamId);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, () -> "cannot delete the stale snapshot of " + streamId + ": " + e, e);
        }
    }

    /**
     * After a save: takes a snapshot when the policy says so; a failure is logged, never thrown. A snapshot
     * due but not stored (refused by the check, or the store failed) counts as taken for the policy's next
     * question about the stream (see {@link #notTaken}).
     *
     * @param lastEventId the id of the event at the aggregate's version, which the snapshot names
     */
    void afterSave(Aggregate aggregate, String streamId, UUID lastEventId) {
        long version = aggregate.version();
        long last = aggregate.snapshotVersion();
        Long tried = notTaken.get(streamId);
        if (tried != null && tried > last && tried <= version) {     // above the version: the stream was reset since
            last = tried;
        }
        boolean due = false;
        try {
            due = policy.shouldSnapshot(last, version);
            if (!due) {
                return;
            }
            ByteArrayOutputStream state = new ByteArrayOutputStream();
            try (JsonGenerator json = mapper.createGenerator(state)) {
                json.writeStartObject();
                json.writeStringField(EVENT_KEY, lastEventId.toString());
                for (StateField f : fields) {
                    json.writeFieldName(f.key());
                    mapper.writeValue(json, f.field().get(aggregate));
                }
                json.writeEndObject();
            }
            byte[] bytes = state.toByteArray();
            String difference = differenceOnRestore(aggregate, bytes);
            if (difference == null) {
                store.save(new Snapshot(streamId, version, type, bytes, Instant.now()));
                aggregate.snapshotTaken(version);
                if (tried != null) {
                    notTaken.remove(streamId);
                }
                return;
            }
            LOG.log(System.Logger.Level.WARNING, () -> "not snapshotting " + streamId + "@" + version + ": " + difference
                    + ", so a load from the snapshot would give another state than a replay; loads replay the events"
                    + " instead. Declare the field, or its elements, of the class it holds (a SortedSet for a TreeSet, say),"
                    + " initialise a collection or map field with the class it holds, or mark the field transient");
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, () -> "cannot snapshot " + streamId + "@" + version
                    + " (the save itself succeeded): " + e, e);
        }
        if (due) {
            if (notTaken.size() >= MAX_NOT_TAKEN) {
                notTaken.clear();
            }
            notTaken.put(streamId, version);
        }
    }

    /**
     * Where the state {@code aggregate} holds and the state a load would restore from {@code state} differ (a
     * subclass read back as the field's class, a {@code TreeSet} nested in a map read back as a {@code HashSet}),
     * or null when they are the same.
     */
    private String differenceOnRestore(Aggregate aggregate, byte[] state) throws IOException, IllegalAccessException {
        List<Object> restored = readFields(state, fresh.get());
        StateDifference check = new StateDifference();     // one for every field: two may share an object
        for (int i = 0; i < fields.size(); i++) {
            StateField f = fields.get(i);
            String difference = check.between(f.field().get(aggregate), restored.get(i), f.key());
            if (difference != null) {
                return difference;
            }
        }
        return null;
    }

    /** The snapshot type this class writes. */
    String type() {
        return type;
    }

    /**
     * The reader of {@code f} into a fresh aggregate whose field holds {@code initial}. An {@code EnumSet}'s
     * class is not public (it is one of the JDK's hidden subclasses), but Jackson makes {@code EnumSet}s.
     */
    private ObjectReader readerFor(StateField f, Object initial) {
        Class<?> target = initial instanceof EnumSet<?> ? EnumSet.class : initial == null ? null : initial.getClass();
        if (!(initial instanceof Collection<?> || initial instanceof Map<?, ?>)
                || target == f.type().getRawClass() || !Modifier.isPublic(target.getModifiers())) {
            return f.reader();
        }
        return f.readers().computeIfAbsent(target,
                c -> stateReader.forType(mapper.getTypeFactory().constructSpecializedType(f.type(), c)));
    }

    private static boolean isState(Field field) {
        int modifiers = field.getModifiers();
        return !Modifier.isStatic(modifiers) && !Modifier.isTransient(modifiers) && !field.isSynthetic();
    }

    /** Whether {@code type} is {@link Object} or has it as a type argument, key or element, however deep. */
    private static boolean holdsObject(JavaType type) {
        return type.getRawClass() == Object.class || typesWithin(type).stream().anyMatch(AggregateSnapshots::holdsObject);
    }

    /** The types {@code type} is made of: its type arguments, and its key and element types. */
    private static List<JavaType> typesWithin(JavaType type) {
        List<JavaType> within = new ArrayList<>(type.containedTypeCount() + 2);
        for (int i = 0; i < type.containedTypeCount(); i++) {
            within.add(type.containedType(i));
        }
        if (type.getKeyType() != null) {
            within.add(type.getKeyType());
        }
        if (type.getContentType() != null) {
            within.add(type.getContentType());
        }
        return within;
    }

    /**
     * Appends to {@code shape} the fields of each non-JDK class {@code type} reaches through its type
     * arguments, keys, elements and fields (the constants of an enum), each class once.
     */
    private static void describeClassesIn(JavaType type, TypeFactory types, StringBuilder shape, Set<Class<?>> described) {
        for (JavaType within : typesWithin(type)) {
            describeClassesIn(within, types, shape, described);
        }
        Class<?> raw = type.getRawClass();
        if (raw.isArray() || isJdk(raw) || !described.add(raw)) {
            return;
        }
        shape.append('{').append(raw.getName());
        if (raw.isEnum()) {
            for (Object constant : raw.getEnumConstants()) {
                shape.append(',').append(((Enum<?>) constant).name());
            }
        }
        for (Class<?> c = raw; c != null && !c.isEnum() && !isJdk(c); c = c.getSuperclass()) {
            JavaType owner = type.findSuperType(c);
            TypeBindings bindings = owner == null ? TypeBindings.emptyBindings() : owner.getBindings();
            for (Field field : c.getDeclaredFields()) {
                if (isState(field)) {
                    shape.append(',').append(field.getName()).append(':').append(field.getGenericType().getTypeName());
                    describeClassesIn(types.resolveMemberType(field.getGenericType(), bindings), types, shape, described);
                }
            }
        }
        shape.append('}');
    }

    static boolean isJdk(Class<?> c) {
        ClassLoader loader = c.getClassLoader();
        return loader == null || loader == ClassLoader.getPlatformClassLoader();
    }

    private List<String> keys() {
        return fields.stream().map(StateField::key).toList();
    }

    private static String fingerprint(String shape) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(shape.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
