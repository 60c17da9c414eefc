package dev.flux.bus;

import dev.flux.FluxException;

/** A command or query was sent to a {@link Bus} on which no handler takes its class. */
public final class HandlerNotFoundException extends FluxException {
    private static final long serialVersionUID = 1L;

    private final transient Class<?> messageClass;

    /**
     * No handler takes commands or queries of {@code messageClass}, nor of a supertype of it.
     *
     * @throws IllegalArgumentException when the class is null
     */
    public HandlerNotFoundException(Class<?> messageClass) {
        this(messageClass, "no handler is registered for " + name(messageClass) + " (nor for a supertype of it)");
    }

    private static String name(Class<?> messageClass) {
        if (messageClass == null) {
            throw new IllegalArgumentException("messageClass must not be null: name the class of the command or query"
                    + " nobody handles");
        }
        return messageClass.getName();
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
