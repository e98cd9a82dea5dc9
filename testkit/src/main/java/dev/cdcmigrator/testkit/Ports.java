package dev.cdcmigrator.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/** Loopback ports for tests of what happens when nothing, or something else, listens. */
public final class Ports {

    private Ports() {
    }

    /**
     * A loopback port that was free a moment ago: nothing listens on it, so a connection to it is refused, and a
     * server the test starts may bind it (until some other process does, which the kernel's allocation order makes
     * unlikely).
     */
    public static int free() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        }
    }
}
