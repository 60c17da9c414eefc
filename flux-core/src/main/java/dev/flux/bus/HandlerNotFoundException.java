package dev.flux.bus;

import dev.flux.FluxException;

/** A command or query was sent to a {@link Bus} on which no handler takes its class. */
public final class HandlerNotFoundException extends FluxException {
    private static final long serialVersionUID = 1L;

    private final transient Class<?> messageClass;

    /** No handler takes commands or queries of {@code messageClass}, nor of a supertype of it. */
    public HandlerNotFoundException(Class<?> messageClass) {
        this(messageClass, "no handler is registered for " + messageClass.getName() + " (nor for a supertype of it)");
    }

    HandlerNotFoundException(Class<?> messageClass, String message) {
        super(message);
        this.messageClass = messageClass;
    }

    /** The class of the message nobody handles. */
    public Class<?> messageClass() {
        return messageClass;
    }
}
