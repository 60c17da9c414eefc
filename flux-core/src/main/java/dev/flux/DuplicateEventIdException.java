package dev.flux;

import java.util.UUID;

/**
 * An append carried an event id that the store already holds, or the same id twice. Event ids are
 * unique across the whole store (as in message-db), so a retried append of the same events is
 * refused rather than recorded twice. Nothing of the rejected append was written.
 */
public class DuplicateEventIdException extends FluxException {
    private static final long serialVersionUID = 1L;

    private final UUID eventId;
    private final String streamId;

    public DuplicateEventIdException(String streamId, UUID eventId) {
        super("Event id " + eventId + " appended to stream '" + streamId
                + "' is already in the store (or twice in the same append); nothing was written. Give each event"
                + " a new id (EventData.of does); an append retried after a failure of unknown outcome meets this when"
                + " the failed attempt stored its events");
        this.streamId = streamId;
        this.eventId = eventId;
    }

    /** The id that was already taken. */
    public UUID eventId() {
        return eventId;
    }

    /** The stream of the refused append. */
    public String streamId() {
        return streamId;
    }
}
