package dev.flux.serialization;

import dev.flux.EventData;
import dev.flux.RecordedEvent;

import java.util.Map;

/**
 * Turns event objects into {@link EventData} bytes and recorded bytes back into event objects,
 * within the allow-list of {@link #eventTypes()}. Implementations are thread-safe.
 */
public interface EventSerializer {

    /**
     * Serializes an event of a registered class, with a new event id; {@code metadata} may be null for none.
     *
     * @throws dev.flux.FluxException   when the class is not registered or cannot be serialized
     * @throws IllegalArgumentException when the event is null, or the metadata holds a null
     */
    EventData serialize(Object event, Map<String, String> metadata);

    /**
     * Decodes a recorded event into an instance of the class registered for its type.
     *
     * @throws EventDecodingException   naming the stream, version and type when the type is not
     *                                  registered or the body does not fit the class
     * @throws IllegalArgumentException when {@code recorded} is null
     */
    Object deserialize(RecordedEvent recorded);

    /** The allow-list this serializer decodes with. */
    EventTypes eventTypes();
}
