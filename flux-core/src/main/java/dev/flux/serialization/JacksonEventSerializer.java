package dev.flux.serialization;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.PropertyAccessor;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flux.EventData;
import dev.flux.Metadata;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;

import java.io.IOException;
import java.lang.reflect.Modifier;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The JSON {@link EventSerializer}, on Jackson. By default events are written field by field (every
 * field, any visibility; getters are not used), so nothing is lost from a class without getters, and
 * {@code java.time} values are ISO-8601 strings, durations too ({@code "PT1.5S"}). Records work as they
 * are; a plain class needs a no-argument constructor (any visibility) or a {@code @JsonCreator}; the first
 * event of each class is
 * written and read back before it is stored, so a class Jackson cannot read is refused up front, and so
 * is every later event of a class with a field that may hold other classes (of an interface, abstract or
 * non-final class type, however deep), which one event may leave null and the next fill, and every event
 * long enough to hold a value over the limits the mapper reads JSON within (its JsonFactory's
 * {@link StreamReadConstraints}; by default a string of over 20,000,000 characters, a number of over 1,000
 * digits, a map key of over 50,000 characters), which Jackson writes but then refuses to read. The
 * {@code schema_version} metadata is always the class's own (see {@link SchemaVersion}), whatever the
 * caller's metadata held. An event written at a version an upcaster reads (an upcaster added with a change of
 * shape whose {@link SchemaVersion} was not raised, say) is read back through the upcasters, as a load would read
 * it, and refused with a {@link FluxException} when that fails, rather than stored unreadable. A stored body is decoded only when it is one JSON value, the event's: one with
 * more after it (two bodies run together, a body with junk after it) fails as the feed fails it, whatever
 * the mapper's {@code FAIL_ON_TRAILING_TOKENS} says, and so does JSON {@code null}, never decoded as a null event. Upcasting keeps decimals exact. Readers and writers are cached per class.
 * Thread-safe.
 */
public final class JacksonEventSerializer implements EventSerializer {
    private final EventTypes eventTypes;
    private final ObjectMapper mapper;
    /** Reads a body to upcast as a tree, keeping decimals exact (as a double, 12345678901234567.10 would lose digits). */
    private final ObjectReader trees;
    private final Map<Class<?>, ObjectReader> readers = new ConcurrentHashMap<>();
    /** Per registered class: its name, version and writer (none of which changes once it is registered). */
    private final Map<Class<?>, Encoder> encoders = new ConcurrentHashMap<>();
    /** Per type name no upcaster reads: its class, version and reader, while EventTypes says the same. */
    private final Map<String, Decoder> decoders = new ConcurrentHashMap<>();

    /**
     * {@code readBackOver}: an event of the class whose JSON is longer than this many bytes is read back before
     * it is stored; -1 for every event (see {@link #findRisks} and {@link #readBackOver(Set)}).
     * {@code longestNumber}: for a class that may hold numbers of any length, the most characters the mapper
     * reads a number with, and an event is read back when its JSON has a longer run of the characters numbers
     * are written with; -1 for other classes.
     */
    private record Encoder(String type, int schemaVersion, ObjectWriter writer, long readBackOver, int longestNumber,
                           int upcasters, boolean readAsOlder) {
        /** Whether this event's JSON is read back before it is stored. */
        boolean readsBack(byte[] json) {
            return json.length > readBackOver || longestNumber >= 0 && json.length > longestNumber && hasRunOver(json, longestNumber);
        }

        /**
         * This encoder as of the upcasters {@code types} holds now: {@code readAsOlder} when one reads the version the
         * class writes, whose events are then read back through the upcasters before they are stored.
         */
        Encoder seeing(EventTypes types) {
            int count = types.upcasterCount();    // read first: an upcaster added after it makes the next event look again
            return new Encoder(type, schemaVersion, writer, readBackOver, longestNumber, count,
                    types.needsUpcast(type, schemaVersion));
        }
    }

    /** What may make an event of a class unreadable though Jackson wrote it (see {@link #findRisks}). */
    private enum Risk {
        /** A value of a class its property does not fix: every event is read back. */
        OPEN_TYPE,
        /** A number of any length: read back when the JSON has a run of digits over the mapper's limit. */
        LONG_NUMBER,
        /** Names of any length (map keys): read back when the JSON could hold one over the mapper's limit. */
        LONG_NAME
    }

    private record Decoder(EventTypes.Plain plain, ObjectReader reader) {
    }

    /**
     * A serializer over {@code eventTypes} with {@link #defaultObjectMapper()}.
     *
     * @throws IllegalArgumentException when {@code eventTypes} is null
     */
    public JacksonEventSerializer(EventTypes eventTypes) {
        this(eventTypes, defaultObjectMapper());
    }

    /**
     * A serializer over {@code eventTypes} with the caller's mapper (which must not change afterwards).
     *
     * @throws IllegalArgumentException when either is null
     */
    public JacksonEventSerializer(EventTypes eventTypes, ObjectMapper mapper) {
        if (eventTypes == null || mapper == null) {
            throw new IllegalArgumentException("eventTypes and mapper must not be null");
        }
        this.eventTypes = eventTypes;
        this.mapper = mapper;
        this.trees = mapper.reader().with(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .without(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES);
    }

    /**
     * The mapper flux uses unless given one: fields of any visibility, no getters, {@code java.time} values as
     * ISO-8601 strings ({@code "2026-11-22T10:15:30Z"}, a {@code Duration} as {@code "PT1.5S"}; a duration stored
     * as seconds, {@code 1.5}, as before flux wrote them so, reads back the same); an
     * {@code OffsetDateTime} or {@code ZonedDateTime} is read back at the offset it was written with (a
     * {@code ZonedDateTime}'s region, Europe/Paris say, is not written: it comes back as its offset).
     */
    public static ObjectMapper defaultObjectMapper() {
        return JsonMapper.builder()
                .addModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS)
                .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
                .visibility(PropertyAccessor.ALL, JsonAutoDetect.Visibility.NONE)
                .visibility(PropertyAccessor.FIELD, JsonAutoDetect.Visibility.ANY)
                .visibility(PropertyAccessor.CREATOR, JsonAutoDetect.Visibility.ANY)
                .build();
    }

    @Override
    public EventData serialize(Object event, Map<String, String> metadata) {
        if (event == null) {
            throw new IllegalArgumentException("event must not be null");
        }
        Class<?> eventClass = event.getClass();
        Encoder encoder = encoders.get(eventClass);
        if (encoder == null) {
            String name = eventTypes.nameOf(eventClass);  // throws when the class is not registered
            encoder = encoders.computeIfAbsent(eventClass, cls -> newEncoder(cls, name, event));
        }
        if (encoder.upcasters() != eventTypes.upcasterCount()) {
            encoder = encoder.seeing(eventTypes);
            encoders.put(eventClass, encoder);
        }
        String type = encoder.type();
        ObjectWriter writer = encoder.writer();
        int schemaVersion = encoder.schemaVersion();
        if (schemaVersion != 1 || metadata != null && metadata.containsKey(Metadata.SCHEMA_VERSION)) {
            // The version is the class's, never the caller's: metadata copied from a cause carries the cause's.
            Map<String, String> versioned = new HashMap<>(metadata == null ? Map.of() : metadata);
            versioned.remove(Metadata.SCHEMA_VERSION);
            if (schemaVersion != 1) {
                versioned.put(Metadata.SCHEMA_VERSION, Integer.toString(schemaVersion));
            }
            metadata = versioned;
        }
        byte[] json;
        try {
            json = writer.writeValueAsBytes(event);
        } catch (JsonProcessingException e) {
            throw new FluxException("Cannot serialize event " + eventClass.getName() + " (type '" + type + "') to JSON: "
                    + e.getOriginalMessage(), e);
        }
        if (encoder.readAsOlder()) {
            readBackUpcast(eventClass, type, schemaVersion, json);
        }
        if (encoder.readsBack(json)) {
            try {
                readerFor(eventClass).readValue(json);
            } catch (IOException e) {
                throw notReadBack(eventClass, type, e, "A field that may hold other classes needs to tell Jackson which"
                        + " (@JsonTypeInfo and @JsonSubTypes on its type, say)");
            }
        }
        return EventData.of(type, json, metadata);
    }

    @Override
    public Object deserialize(RecordedEvent recorded) {
        requireRecorded(recorded);
        int storedVersion = storedSchemaVersion(recorded);
        EventTypes.Plain plain = eventTypes.plain(recorded.type());
        if (plain != null && plain.schemaVersion() == storedVersion) {
            // The common case: a type no upcaster reads, stored at its current version.
            Decoder decoder = decoders.get(recorded.type());
            if (decoder == null || decoder.plain() != plain) {
                decoder = new Decoder(plain, readerFor(plain.eventClass()));
                decoders.put(recorded.type(), decoder);
            }
            return read(recorded, decoder.reader(), plain.eventClass(), storedVersion);
        }
        if (eventTypes.needsUpcast(recorded.type(), storedVersion)) {
            Upcasted current = upcast(recorded, storedVersion);
            Class<?> eventClass = eventTypes.classOf(current.type()).orElseThrow();
            try {
                // Through the JSON text, as a current event is read: its decimals exact, and a number in an Object
                // field the same class (Double) as in an event stored at the current version.
                return readerFor(eventClass).readValue(mapper.writeValueAsBytes(current.data()));
            } catch (IOException e) {
                int currentVersion = eventTypes.schemaVersionOf(eventClass);
                throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                        "the JSON upcast from '" + recorded.type() + "' v" + storedVersion + " to '" + current.type() + "' v"
                        + currentVersion + " does not fit " + eventClass.getName() + ": " + e.getMessage() + ". Make the upcasters"
                        + " on the way give the shape of version " + currentVersion + " of " + eventClass.getName(), e);
            }
        }
        Class<?> eventClass = eventTypes.classOf(recorded.type()).orElseThrow(() -> new EventDecodingException(
                recorded.streamId(), recorded.version(), recorded.type(), notRegistered(recorded.type(), storedVersion), null));
        return read(recorded, readerFor(eventClass), eventClass, storedVersion);
    }

    /**
     * The encoder of a class, made on its first event, which it writes and reads back: a class Jackson
     * writes but cannot read (a field of an interface type, say) is refused before any event of it is stored.
     * The first event shows only its own values (a field of an interface type may be null in it), so the
     * events of a class that {@link #findRisks holds open types} are each read back, and those of any class
     * long enough to hold a value over the mapper's read limits (see {@link #readBackOver(Set)}).
     */
    private Encoder newEncoder(Class<?> eventClass, String type, Object firstEvent) {
        ObjectWriter writer = mapper.writerFor(eventClass);
        try {
            readerFor(eventClass).readValue(writer.writeValueAsBytes(firstEvent));
        } catch (IOException e) {
            if (readBackAdvice(e) != null) {
                throw notReadBack(eventClass, type, e, null);
            }
            throw new FluxException("Events of " + eventClass.getName() + " (type '" + type + "') can be written as JSON"
                    + " but not read back, so none is stored: " + e.getMessage()
                    + ". Give each field a concrete type, or tell Jackson how to read it (@JsonTypeInfo, @JsonCreator)", e);
        }
        Set<Risk> risks = EnumSet.noneOf(Risk.class);
        findRisks(mapper.constructType(eventClass), true, new HashSet<>(), risks);
        return new Encoder(type, eventTypes.schemaVersionOf(eventClass), writer, readBackOver(risks),
                risks.contains(Risk.LONG_NUMBER) ? mapper.getFactory().streamReadConstraints().getMaxNumberLength() : -1,
                -1, false).seeing(eventTypes);
    }

    /**
     * Reads back, as a load would, an event written at a version an upcaster reads, and refuses it when that fails:
     * an upcaster from the version the class still writes (its {@link SchemaVersion} not raised with it) would
     * otherwise have every new event stored, and its stream no longer load, or, once the version is raised, load
     * with the upcaster's defaults in place of the values stored.
     */
    private void readBackUpcast(Class<?> eventClass, String type, int schemaVersion, byte[] json) {
        String problem;
        Throwable cause;
        try {
            Upcasted current = eventTypes.upcast(type, schemaVersion, (ObjectNode) trees.readTree(json));
            Class<?> currentClass = eventTypes.classOf(current.type()).orElseThrow();
            readerFor(currentClass).readValue(mapper.writeValueAsBytes(current.data()));
            return;
        } catch (IllegalStateException | IOException | ClassCastException e) {
            problem = e.getMessage();
            cause = e.getCause() != null && e instanceof IllegalStateException ? e.getCause() : e;
        }
        throw new FluxException("This event of " + eventClass.getName() + " (type '" + type + "') is written at schema version "
                + schemaVersion + ", which an upcaster in EventTypes reads as an older event, and it would not read back, so it"
                + " is not stored: " + problem + ". When the class changed shape with that upcaster, raise its @SchemaVersion to "
                + (schemaVersion + 1) + "; otherwise remove the upcaster from version " + schemaVersion, cause);
    }

    /**
     * What a value of {@code type} may hold that Jackson writes but this mapper may not read back, however
     * deep, added to {@code risks}: an object whose class its property does not fix, an interface, an
     * abstract class or a class open to subclasses (its own properties' types, as Jackson reads them,
     * included), which may be null or empty in one event and hold, in the next, a value Jackson cannot read;
     * a number of any length ({@code BigInteger}, {@code BigDecimal}, or an {@code Object}); names of any
     * length (map keys). {@code Object} (read back as maps, lists and scalars), enums, JDK collections and
     * maps (their elements are looked at) and concrete JDK classes are closed. A type Jackson cannot
     * describe counts as open.
     */
    private void findRisks(JavaType type, boolean root, Set<Class<?>> seen, Set<Risk> risks) {
        if (risks.contains(Risk.OPEN_TYPE)) {
            return;
        }
        if (type.isMapLikeType()) {
            risks.add(Risk.LONG_NAME);
        }
        if (type.isContainerType() || type.isReferenceType()) {
            for (JavaType within : new JavaType[] {type.getKeyType(), type.getContentType()}) {
                if (within != null) {
                    findRisks(within, false, seen, risks);
                }
            }
            return;
        }
        Class<?> raw = type.getRawClass();
        if (raw == Object.class) {
            risks.add(Risk.LONG_NUMBER);
            risks.add(Risk.LONG_NAME);
            return;
        }
        if (raw.isPrimitive() || raw.isEnum() || type.isEnumType() || !seen.add(raw)) {
            return;
        }
        boolean abstractType = raw.isInterface() || Modifier.isAbstract(raw.getModifiers());
        ClassLoader loader = raw.getClassLoader();
        if (loader == null || loader == ClassLoader.getPlatformClassLoader()) {
            if (abstractType) {
                risks.add(Risk.OPEN_TYPE);
            } else if (raw == BigInteger.class || raw == BigDecimal.class) {
                risks.add(Risk.LONG_NUMBER);
            }
            return;
        }
        if (abstractType || !root && !Modifier.isFinal(raw.getModifiers())) {
            risks.add(Risk.OPEN_TYPE);    // the event's own class is its runtime class; a property's value may be a subclass
            return;
        }
        try {
            BeanDescription description = mapper.getDeserializationConfig().introspect(type);
            if (description.findAnySetterAccessor() != null) {
                risks.add(Risk.LONG_NAME);
            }
            for (BeanPropertyDefinition property : description.findProperties()) {
                findRisks(property.getPrimaryType(), false, seen, risks);
            }
        } catch (RuntimeException e) {
            risks.add(Risk.OPEN_TYPE);
        }
    }

    /**
     * The JSON length above which an event with these risks is read back before it is stored: none for an
     * open type (every event); else the shortest JSON that can hold a value over one of the limits the mapper
     * reads with (its {@link StreamReadConstraints}; each counts characters, tokens or levels, none more than
     * the bytes they take): a string's length (20,000,000 by default), a name's (50,000) for classes that may
     * hold maps, the document's and the token count when set, the nesting depth when the mapper writes deeper
     * than it reads. (A number's, 1,000, is looked for in the JSON instead: see {@link #hasRunOver}.)
     */
    private long readBackOver(Set<Risk> risks) {
        if (risks.contains(Risk.OPEN_TYPE)) {
            return -1;
        }
        StreamReadConstraints limits = mapper.getFactory().streamReadConstraints();
        long over = limits.getMaxStringLength();
        if (limits.getMaxDocumentLength() > 0) {
            over = Math.min(over, limits.getMaxDocumentLength());
        }
        if (limits.getMaxTokenCount() > 0) {
            over = Math.min(over, limits.getMaxTokenCount());
        }
        if (mapper.getFactory().streamWriteConstraints().getMaxNestingDepth() > limits.getMaxNestingDepth()) {
            over = Math.min(over, limits.getMaxNestingDepth());
        }
        if (risks.contains(Risk.LONG_NAME)) {
            over = Math.min(over, limits.getMaxNameLength());
        }
        return over;
    }

    /**
     * Whether {@code json} has a run of more than {@code max} of the characters a number is written with
     * (digits, {@code . e E + -}): where a number longer than the mapper reads would be. A scan of the bytes,
     * far cheaper than reading the event back; a long run in a string makes it read back, no more.
     */
    private static boolean hasRunOver(byte[] json, int max) {
        int run = 0;
        for (byte b : json) {
            if (b >= '0' && b <= '9' || b == '.' || b == 'e' || b == 'E' || b == '+' || b == '-') {
                if (++run > max) {
                    return true;
                }
            } else {
                run = 0;
            }
        }
        return false;
    }

    /** The refusal of an event Jackson wrote but could not read back: what to do, {@code otherwise} when no limit was broken. */
    private static FluxException notReadBack(Class<?> eventClass, String type, IOException e, String otherwise) {
        String advice = readBackAdvice(e);
        return new FluxException("This event of " + eventClass.getName() + " (type '" + type + "') can be written as"
                + " JSON but not read back, so it is not stored: " + e.getMessage() + ". "
                + (advice != null ? advice : otherwise), e);
    }

    /**
     * What to do about an event Jackson wrote but could not read back because it broke a limit the mapper
     * reads with: keep its values within them; null when no limit was broken.
     */
    private static String readBackAdvice(IOException e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof StreamConstraintsException) {
                return "It is over a limit the serializer's ObjectMapper reads JSON within (its JsonFactory's"
                        + " StreamReadConstraints): keep such values smaller, or give every serializer that reads these"
                        + " events a mapper whose JsonFactory reads them (JsonFactory.builder().streamReadConstraints(...))";
            }
        }
        return null;
    }

    private ObjectReader readerFor(Class<?> eventClass) {
        ObjectReader reader = readers.get(eventClass);
        return reader != null ? reader : readers.computeIfAbsent(eventClass,
                cls -> mapper.readerFor(cls).with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS));
    }

    private static Object read(RecordedEvent recorded, ObjectReader reader, Class<?> eventClass, int storedVersion) {
        Object event;
        try {
            event = reader.readValue(recorded.dataStream());
        } catch (IOException e) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(), "the JSON stored at"
                    + " schema version " + storedVersion + " does not fit " + eventClass.getName() + ": " + e.getMessage()
                    + ". If the class changed shape since it was stored, raise its @SchemaVersion to " + (storedVersion + 1)
                    + " and register an upcaster from version " + storedVersion + " that turns the stored JSON into the new"
                    + " shape (EventTypes.upcaster)", e);
        }
        if (event == null) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                    "the stored body is JSON null, not " + eventClass.getName() + " (no event is written as null)", null);
        }
        return event;
    }

    /**
     * The event as the current code sees it: upcast to the current schema version, under its current
     * type name, with {@code schema_version} updated; the event itself when it needs no upcasting.
     * What a feed serves to consumers that only know the current classes.
     *
     * @throws EventDecodingException   when it cannot be upcast
     * @throws IllegalArgumentException when {@code recorded} is null
     */
    public RecordedEvent upcast(RecordedEvent recorded) {
        requireRecorded(recorded);
        int storedVersion = storedSchemaVersion(recorded);
        if (!eventTypes.needsUpcast(recorded.type(), storedVersion)) {
            return recorded;
        }
        Upcasted current = upcast(recorded, storedVersion);
        Map<String, String> metadata = new HashMap<>(recorded.metadata());
        int version = eventTypes.schemaVersionOf(eventTypes.classOf(current.type()).orElseThrow());
        if (version == 1) {
            metadata.remove(Metadata.SCHEMA_VERSION);
        } else {
            metadata.put(Metadata.SCHEMA_VERSION, Integer.toString(version));
        }
        try {
            return new RecordedEvent(recorded.streamId(), recorded.version(), recorded.position(), recorded.eventId(),
                    current.type(), mapper.writeValueAsBytes(current.data()), metadata, recorded.recordedAt());
        } catch (JsonProcessingException e) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                    "cannot write the upcast JSON: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * Why an event of an unregistered type cannot be decoded, and what to do. A type upcasters read at other
     * schema versions is named as such: the upcasters are there (shared from the process that writes it, say)
     * while its class is not, and a subscription decodes such a type to see what it becomes.
     */
    private String notRegistered(String type, int storedVersion) {
        String upcasters = eventTypes.hasUpcasters(type)
                ? "; upcasters read '" + type + "', but not at schema version " + storedVersion + ", the one it was stored at"
                : "";
        return "the type is not registered in EventTypes (registered: " + eventTypes.names() + ")" + upcasters
                + ": register its class in the EventTypes this serializer decodes with (EventTypes.register, or"
                + " EventTypes.of listing every event class)";
    }

    private Upcasted upcast(RecordedEvent recorded, int storedVersion) {
        JsonNode tree;
        try {
            tree = trees.readTree(recorded.data());
        } catch (IOException e) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                    "the stored body is not JSON: " + e.getMessage(), e);
        }
        if (!(tree instanceof ObjectNode object)) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                    "only a JSON object can be upcast, the stored body is "
                    + (tree == null || tree.isMissingNode() ? "empty" : tree.getNodeType().toString().toLowerCase(Locale.ROOT)),
                    null);
        }
        try {
            return eventTypes.upcast(recorded.type(), storedVersion, object);
        } catch (IllegalStateException e) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(), e.getMessage(), e.getCause());
        }
    }

    private static void requireRecorded(RecordedEvent recorded) {
        if (recorded == null) {
            throw new IllegalArgumentException("recorded event must not be null");
        }
    }

    private static int storedSchemaVersion(RecordedEvent recorded) {
        int version = EventTypes.storedVersion(recorded);
        if (version >= 1) {
            return version;
        }
        throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(), "its metadata '"
                + Metadata.SCHEMA_VERSION + "' is not a version number >= 1: '" + recorded.metadata().get(Metadata.SCHEMA_VERSION)
                + "'", null);
    }

    @Override
    public EventTypes eventTypes() {
        return eventTypes;
    }

    /** The mapper in use, e.g. to decode event bodies in a read model the same way. */
    public ObjectMapper objectMapper() {
        return mapper;
    }
}
