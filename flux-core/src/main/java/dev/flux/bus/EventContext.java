package dev.flux.bus;

import dev.flux.EventData;

import java.util.Map;
import java.util.UUID;

/**
 * What a {@link Bus} hands a listener {@linkplain Bus#subscribeWithContext subscribed with context} beside
 * the event: the event's id and its metadata. For an event a repository saved and published (see
 * {@link dev.flux.Repository.Builder#publishTo}), they are the id and metadata the store recorded with it,
 * what {@code readStream} returns, so a listener reacting to it can carry the conversation on (an event
 * without a correlation id starts one here):
 *
 * <pre>{@code
 * String correlation = context.metadata().getOrDefault(Metadata.CORRELATION_ID, context.eventId().toString());
 * other.update(effect, Metadata.causedBy(UUID.fromString(correlation), context.eventId()));
 * }</pre>
 *
 * <p>An event published without a context ({@link Bus#publish(Object)}) gets a new one for that publish,
 * the same for each of its listeners: a new time-ordered id ({@link EventData#newEventId()}) that names
 * that publish alone (no store holds an event under it), and empty metadata. A listener that passes that
 * id on as a causation id says "caused by that publish", as Axon does for a payload published without a
 * message around it. Immutable.
 *
 * @param eventId  the event's id; for a saved event, the id it is stored under
 * @param metadata the entries recorded with the event (see {@link dev.flux.Metadata}); empty when none
 */
public record EventContext(UUID eventId, Map<String, String> metadata) {

    /**
     * @throws IllegalArgumentException when the id or the metadata is null, or the metadata holds a null
     */
    public EventContext {
        if (eventId == null) {
            throw new IllegalArgumentException("eventId must not be null");
        }
        if (metadata == null) {
            throw new IllegalArgumentException("metadata of event " + eventId + " must not be null; Map.of() for none");
        }
        try {
            metadata = Map.copyOf(metadata);    // the map itself when it is one already, as a saved event's is
        } catch (NullPointerException e) {
            throw new IllegalArgumentException("metadata of event " + eventId + " must not hold nulls, had " + metadata, e);
        }
    }

    /** The context of an event published without one (see above). */
    static EventContext unsaved() {
        return new EventContext(EventData.newEventId(), Map.of());
    }
}
