package dev.flux.serialization;

import dev.flux.FluxException;

/**
 * A recorded event could not be turned back into an object: its type name is not registered in
 * {@link EventTypes}, or its body does not fit the registered class (corrupt JSON, a changed class
 * without an upcaster). The message names the stream, version and type.
 */
public class EventDecodingException extends FluxException {
    private static final long serialVersionUID = 1L;

    private final String streamId;
    private final long version;
    private final String type;

    public EventDecodingException(String streamId, long version, String type, String problem, Throwable cause) {
        super("Cannot decode event " + streamId + "@" + version + " of type '" + type + "': " + problem, cause);
        this.streamId = streamId;
        this.version = version;
        this.type = type;
    }

    /** The stream of the event that failed. */
    public String streamId() {
        return streamId;
    }

    /** Its version within the stream. */
    public long version() {
        return version;
    }

    /** Its type name. */
    public String type() {
        return type;
    }
}
