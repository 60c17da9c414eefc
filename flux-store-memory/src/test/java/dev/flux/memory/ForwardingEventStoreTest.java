package dev.flux.memory;

import dev.flux.EventStore;
import dev.flux.ForwardingEventStore;
import dev.flux.test.EventStoreContract;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A decorator that adds nothing passes the whole contract, and forwards every method of the store SPI. */
class ForwardingEventStoreTest extends EventStoreContract {
    @Override
    protected EventStore newStore() {
        return new ForwardingEventStore(new InMemoryEventStore()) { };
    }

    @Test
    void everyMethodOfAStoreIsForwardedTheDefaultsToo() {
        List<String> kept = Arrays.stream(EventStore.class.getMethods())
                .filter(method -> !Modifier.isStatic(method.getModifiers()))
                .filter(method -> !declaredBy(method))
                .map(Method::getName)
                .toList();

        assertEquals(List.of(), kept, "methods ForwardingEventStore leaves to the interface's defaults (or lacks)");
    }

    @Test
    void itNamesItselfAndTheStoreItWraps() {
        InMemoryEventStore inner = new InMemoryEventStore();

        assertEquals("ForwardingEventStore over " + inner, new ForwardingEventStore(inner) { }.toString());
        assertEquals("Timed over " + inner, new Timed(inner).toString());
    }

    private static final class Timed extends ForwardingEventStore {
        Timed(EventStore store) {
            super(store);
        }
    }

    @Test
    void aDecoratorOfNothingIsRefused() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> new ForwardingEventStore(null) { });

        assertEquals("delegate must not be null", refused.getMessage());
    }

    private static boolean declaredBy(Method method) {
        try {
            ForwardingEventStore.class.getDeclaredMethod(method.getName(), method.getParameterTypes());
            return true;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }
}
