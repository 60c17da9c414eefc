package dev.flux;

/**
 * An aggregate was asked to apply (or replay) an event it has no handler for. The message names the
 * method flux looked for, e.g. {@code void handleAccountCredited(AccountCredited)} on {@code Account}:
 * add that method (any visibility, on the class or a superclass). Met while a {@link Repository} loads an
 * aggregate, it also names the stream, version, type and position of the recorded event.
 */
public class MissingHandlerException extends FluxException {
    private static final long serialVersionUID = 1L;

    public MissingHandlerException(Class<?> aggregateClass, Class<?> eventClass) {
        super(aggregateClass.getName() + " has no handler for event " + eventClass.getName()
                + ": add a method 'void " + Handlers.methodNameFor(eventClass) + "("
                + eventClass.getSimpleName() + " event)' to it or a superclass");
    }

    /** {@code missing}, met replaying {@code recorded}: the message says which stream, version, type and position. */
    MissingHandlerException(MissingHandlerException missing, RecordedEvent recorded) {
        super("Cannot load " + recorded.streamId() + ": " + missing.getMessage() + " (replaying version "
                + recorded.version() + ", type '" + recorded.type() + "', position " + recorded.position() + ")", missing);
    }
}
