package dev.flux.bus;

import dev.flux.FluxException;

/** A command or query was sent to a {@link Bus} on which no handler takes its class. */
public final class HandlerNotFoundException extends FluxException {
    private static final long serialVersionUID = 1L;

    private final transient Class<?> messageClass;

    public HandlerNotFoundException(Class<?> messageClass) {
        super("no handler is registered for " + messageClass.getName() + " (nor for a supertype of it)");
        this.messageClass = messageClass;
    }

    /** The class of the message nobody handles. */
    public Class<?> messageClass() {
        return messageClass;
    }
}
