package io.syncwarden.sync;

import java.util.UUID;
import org.h2.tools.Server;
import org.junit.jupiter.api.AfterEach;

/** Run records on an H2 target served over TCP, so the proxy can take it down. */
class H2RunRecordTest extends RunRecordScenarios {
    private Server server;

    @Override
    String urlTemplate() throws Exception {
        server = Server.createTcpServer("-tcpPort", "0", "-ifNotExists").start();
        return "jdbc:h2:tcp://127.0.0.1:{port}/mem:runs-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1";
    }

    @Override
    int directPort() {
        return server.getPort();
    }

    @Override
    String user() {
        return "sa";
    }

    @Override
    String password() {
        return "";
    }

    @AfterEach
    void stopServer() {
        server.stop();
    }
}
