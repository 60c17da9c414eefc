package dev.flux.xodus;

import java.nio.file.Path;

/** A child process for {@link XodusBadInputTest}: opens a store, prints {@code READY}, and holds it until killed. */
public final class DirectoryHolder {
    private DirectoryHolder() {
    }

    public static void main(String[] args) throws InterruptedException {
        XodusEventStore store = new XodusEventStore(Path.of(args[0]));
        System.out.println("READY " + store.directory());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
