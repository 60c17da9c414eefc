package dev.flux;

/**
 * An aggregate was asked to apply (or replay) an event it has no handler for. The message names the
 * method flux looked for, e.g. {@code void handleAccountCredited(AccountCredited)} on {@code Account}:
 * add that method (any visibility, on the class or a superclass).
 */
public class MissingHandlerException extends FluxException {
    private static final long serialVersionUID = 1L;

    public MissingHandlerException(Class<?> aggregateClass, Class<?> eventClass) {
        super(aggregateClass.getName() + " has no handler for event " + eventClass.getName()
                + ": add a method 'void " + Handlers.methodNameFor(eventClass) + "("
                + eventClass.getSimpleName() + " event)' to it or a superclass");
    }
}
