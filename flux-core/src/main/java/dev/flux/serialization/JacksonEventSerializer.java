package dev.flux.serialization;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.PropertyAccessor;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flux.EventData;
import dev.flux.Metadata;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The JSON {@link EventSerializer}, on Jackson. By default events are written field by field (every
 * field, any visibility; getters are not used), so nothing is lost from a class without getters, and
 * {@code java.time} values are ISO-8601 strings. Records work as they are; a plain class needs a
 * no-argument constructor (any visibility) or a {@code @JsonCreator}. Readers and writers are cached
 * per class. Thread-safe.
 */
public final class JacksonEventSerializer implements EventSerializer {
    private final EventTypes eventTypes;
    private final ObjectMapper mapper;
    private final Map<Class<?>, ObjectReader> readers = new ConcurrentHashMap<>();
    /** Per registered class: its name, version and writer (none of which changes once it is registered). */
    private final Map<Class<?>, Encoder> encoders = new ConcurrentHashMap<>();
    /** Per type name no upcaster reads: its class, version and reader, while EventTypes says the same. */
    private final Map<String, Decoder> decoders = new ConcurrentHashMap<>();

    private record Encoder(String type, int schemaVersion, ObjectWriter writer) {
    }

    private record Decoder(EventTypes.Plain plain, ObjectReader reader) {
    }

    /** A serializer over {@code eventTypes} with {@link #defaultObjectMapper()}. */
    public JacksonEventSerializer(EventTypes eventTypes) {
        this(eventTypes, defaultObjectMapper());
    }

    /** A serializer over {@code eventTypes} with the caller's mapper (which must not change afterwards). */
    public JacksonEventSerializer(EventTypes eventTypes, ObjectMapper mapper) {
        if (eventTypes == null || mapper == null) {
            throw new IllegalArgumentException("eventTypes and mapper must not be null");
        }
        this.eventTypes = eventTypes;
        this.mapper = mapper;
    }

    /** The mapper flux uses unless given one: fields of any visibility, no getters, ISO-8601 dates. */
    public static ObjectMapper defaultObjectMapper() {
        return JsonMapper.builder()
                .addModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
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
            encoder = encoders.computeIfAbsent(eventClass,
                    cls -> new Encoder(name, eventTypes.schemaVersionOf(cls), mapper.writerFor(cls)));
        }
        String type = encoder.type();
        ObjectWriter writer = encoder.writer();
        int schemaVersion = encoder.schemaVersion();
        if (schemaVersion != 1) {
            Map<String, String> versioned = new HashMap<>(metadata == null ? Map.of() : metadata);
            versioned.put(Metadata.SCHEMA_VERSION, Integer.toString(schemaVersion));
            metadata = versioned;
        }
        try {
            return EventData.of(type, writer.writeValueAsBytes(event), metadata);
        } catch (JsonProcessingException e) {
            throw new FluxException("Cannot serialize event " + eventClass.getName() + " (type '" + type + "') to JSON: "
                    + e.getOriginalMessage(), e);
        }
    }

    @Override
    public Object deserialize(RecordedEvent recorded) {
        int storedVersion = storedSchemaVersion(recorded);
        EventTypes.Plain plain = eventTypes.plain(recorded.type());
        if (plain != null && plain.schemaVersion() == storedVersion) {
            // The common case: a type no upcaster reads, stored at its current version.
            Decoder decoder = decoders.get(recorded.type());
            if (decoder == null || decoder.plain() != plain) {
                decoder = new Decoder(plain, readerFor(plain.eventClass()));
                decoders.put(recorded.type(), decoder);
            }
            return read(recorded, decoder.reader(), plain.eventClass());
        }
        if (eventTypes.needsUpcast(recorded.type(), storedVersion)) {
            Upcasted current = upcast(recorded, storedVersion);
            Class<?> eventClass = eventTypes.classOf(current.type()).orElseThrow();
            try {
                return readers.computeIfAbsent(eventClass, mapper::readerFor).readValue(current.data());
            } catch (IOException e) {
                throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                        "the upcast JSON does not fit " + eventClass.getName() + ": " + e.getMessage(), e);
            }
        }
        Class<?> eventClass = eventTypes.classOf(recorded.type()).orElseThrow(() -> new EventDecodingException(
                recorded.streamId(), recorded.version(), recorded.type(),
                "the type is not registered in EventTypes (registered: " + eventTypes.names() + ")", null));
        return read(recorded, eventClass);
    }

    private ObjectReader readerFor(Class<?> eventClass) {
        ObjectReader reader = readers.get(eventClass);
        return reader != null ? reader : readers.computeIfAbsent(eventClass, mapper::readerFor);
    }

    private Object read(RecordedEvent recorded, Class<?> eventClass) {
        return read(recorded, readerFor(eventClass), eventClass);
    }

    private static Object read(RecordedEvent recorded, ObjectReader reader, Class<?> eventClass) {
        try {
            return reader.readValue(recorded.dataStream());
        } catch (IOException e) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                    "the JSON does not fit " + eventClass.getName() + ": " + e.getMessage(), e);
        }
    }

    /**
     * The event as the current code sees it: upcast to the current schema version, under its current
     * type name, with {@code schema_version} updated; the event itself when it needs no upcasting.
     * What a feed serves to consumers that only know the current classes.
     *
     * @throws EventDecodingException when it cannot be upcast
     */
    public RecordedEvent upcast(RecordedEvent recorded) {
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

    private Upcasted upcast(RecordedEvent recorded, int storedVersion) {
        JsonNode tree;
        try {
            tree = mapper.readTree(recorded.data());
        } catch (IOException e) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                    "the stored body is not JSON: " + e.getMessage(), e);
        }
        if (!(tree instanceof ObjectNode object)) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                    "only a JSON object can be upcast, the stored body is " + (tree == null ? "empty" : tree.getNodeType()), null);
        }
        try {
            return eventTypes.upcast(recorded.type(), storedVersion, object);
        } catch (IllegalStateException e) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(), e.getMessage(), e.getCause());
        }
    }

    private static int storedSchemaVersion(RecordedEvent recorded) {
        String text = recorded.metadata().get(Metadata.SCHEMA_VERSION);
        if (text == null) {
            return 1;
        }
        try {
            int version = Integer.parseInt(text);
            if (version >= 1) {
                return version;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                "its metadata '" + Metadata.SCHEMA_VERSION + "' is not a version number >= 1: '" + text + "'", null);
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
