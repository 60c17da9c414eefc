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
import dev.flux.EventData;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;

import java.io.IOException;
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
    private final Map<Class<?>, ObjectWriter> writers = new ConcurrentHashMap<>();
    private final Map<Class<?>, ObjectReader> readers = new ConcurrentHashMap<>();

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
        String type = eventTypes.nameOf(eventClass);
        ObjectWriter writer = writers.computeIfAbsent(eventClass, mapper::writerFor);
        try {
            return EventData.of(type, writer.writeValueAsBytes(event), metadata);
        } catch (JsonProcessingException e) {
            throw new FluxException("Cannot serialize event " + eventClass.getName() + " (type '" + type + "') to JSON: "
                    + e.getOriginalMessage(), e);
        }
    }

    @Override
    public Object deserialize(RecordedEvent recorded) {
        Class<?> eventClass = eventTypes.classOf(recorded.type()).orElseThrow(() -> new EventDecodingException(
                recorded.streamId(), recorded.version(), recorded.type(),
                "the type is not registered in EventTypes (registered: " + eventTypes.names() + ")", null));
        ObjectReader reader = readers.computeIfAbsent(eventClass, mapper::readerFor);
        try {
            return reader.readValue(recorded.data());
        } catch (IOException e) {
            throw new EventDecodingException(recorded.streamId(), recorded.version(), recorded.type(),
                    "the JSON does not fit " + eventClass.getName() + ": " + e.getMessage(), e);
        }
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
