package dev.flux.serialization;

import com.fasterxml.jackson.annotation.JsonIgnore;
import dev.flux.EventData;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Generic event classes: JSON holds no type arguments, so those whose fields depend on them are refused. */
class GenericEventClassTest {

    record Money(long cents) {}

    record Wrapped<T>(T value, String note) {}

    /** Every shape a field's type can take around a type variable, and one field without. */
    static final class Batch<T> {
        List<T> items;
        T[] array;
        Map<String, List<? extends T>> byKey;
        String label;
    }

    static class Envelope<T> {
        T value;

        Envelope() {
        }

        Envelope(T value) {
            this.value = value;
        }
    }

    /** Binds {@code T}: Jackson reads {@code value} as a Money. */
    static final class MoneyEnvelope extends Envelope<Money> {
        @SuppressWarnings("unused")
        private MoneyEnvelope() {
        }

        MoneyEnvelope(Money value) {
            super(value);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof MoneyEnvelope e && Objects.equals(value, e.value);
        }

        @Override
        public int hashCode() {
            return Objects.hashCode(value);
        }
    }

    /** Passes its own variable on: {@code value} still depends on one. */
    static final class Forwarding<U> extends Envelope<U> {}

    @SuppressWarnings("rawtypes")
    static final class RawEnvelope extends Envelope {}

    @Test
    void aGenericEventClassIsRefusedByEveryWayOfRegisteringItNamingTheFieldAndWhatToDoInstead() {
        EventTypes types = new EventTypes();
        List<Executable> registrations = List.of(
                () -> EventTypes.of(Money.class, Wrapped.class),
                () -> types.register(Wrapped.class),
                () -> types.register("wrapped", Wrapped.class),
                () -> types.register("wrapped", Wrapped.class, 2),      // an upcaster's target is registered so
                () -> types.nameOrRegister(Wrapped.class));

        for (Executable registration : registrations) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, registration);

            String message = refused.getMessage();
            assertTrue(message.contains(Wrapped.class.getName()) && message.contains("Wrapped.value (T)")
                    && !message.contains("note") && message.contains("one concrete class per payload type")
                    && message.contains("@JsonTypeInfo"), message);
        }
        assertEquals(Set.of(), types.names());
    }

    @Test
    void everyFieldWhoseTypeHoldsATypeVariableIsNamedAndOnlyThose() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> EventTypes.of(Batch.class));

        assertTrue(refused.getMessage().contains("Batch.items (java.util.List<T>), Batch.array (T[]), "
                + "Batch.byKey (java.util.Map<java.lang.String, java.util.List<? extends T>>)."), refused.getMessage());
        assertFalse(refused.getMessage().contains("label"), refused.getMessage());
    }

    @Test
    void aSubclassThatLeavesTheSuperclasssVariableUnboundIsRefusedNamingTheSuperclasssField() {
        for (Class<?> unbound : List.of(Forwarding.class, RawEnvelope.class)) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> EventTypes.of(unbound));

            assertTrue(refused.getMessage().contains(unbound.getName() + " has fields whose type depends on a type variable:"
                    + " Envelope.value (T)") && refused.getMessage().contains("class MoneyEnvelope extends Envelope<Money>"),
                    refused.getMessage());
        }
    }

    @Test
    void aSubclassThatBindsTheVariableIsAcceptedAndItsFieldComesBackAsTheBoundClass() {
        JacksonEventSerializer serializer = new JacksonEventSerializer(EventTypes.of(MoneyEnvelope.class));

        Object read = serializer.deserialize(recorded(serializer.serialize(new MoneyEnvelope(new Money(5)), Map.of())));

        assertEquals(new MoneyEnvelope(new Money(5)), read);
        assertEquals(Money.class, ((MoneyEnvelope) read).value.getClass());
    }

    record Basket(List<Money> items, Map<String, List<Money>> byOwner, Money[] array, List<?> anything) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Basket b && items.equals(b.items) && byOwner.equals(b.byOwner)
                    && Arrays.equals(array, b.array) && anything.equals(b.anything);
        }

        @Override
        public int hashCode() {
            return Objects.hash(items, byOwner, Arrays.hashCode(array), anything);
        }
    }

    /** Generic, but no field Jackson reads depends on {@code T}. */
    static final class Tagged<T> {
        String tag;
        transient T cache;
        @JsonIgnore
        T ignored;

        @SuppressWarnings("unused")
        private Tagged() {
        }

        Tagged(String tag) {
            this.tag = tag;
        }
    }

    @Test
    void genericTypesWithoutTypeVariablesAndFieldsJacksonSkipsAreAcceptedAndRoundTrip() {
        JacksonEventSerializer serializer = new JacksonEventSerializer(EventTypes.of(Basket.class, Tagged.class));
        Basket basket = new Basket(List.of(new Money(1)), Map.of("ana", List.of(new Money(2))), new Money[] {new Money(3)},
                List.of("x"));

        assertEquals(basket, serializer.deserialize(recorded(serializer.serialize(basket, Map.of()))));
        assertEquals("t", ((Tagged<?>) serializer.deserialize(recorded(serializer.serialize(new Tagged<Money>("t"), Map.of())))).tag);
    }

    private static RecordedEvent recorded(EventData data) {
        return RecordedEvent.of("Account-42", 3, 10, data, Instant.now());
    }
}
