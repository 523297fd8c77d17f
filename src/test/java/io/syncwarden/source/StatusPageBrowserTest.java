package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import io.syncwarden.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The status page in a real browser: Debian's headless Chromium driven by Selenium through Debian's chromedriver
 * (paths given explicitly: nothing is downloaded), against the service on its business port. It sees a card per
 * source, clicks "Sync now" and sees the run's progress and then the new run, opens the backfill dialog and sees
 * the estimate, and saves a screenshot to target/status-page.png.
 *
 * <p>Needs the packages chromium and chromium-driver (.ci/run installs them); elsewhere set
 * {@code SYNCWARDEN_CHROMIUM} and {@code SYNCWARDEN_CHROMEDRIVER} to their paths.
 */
class StatusPageBrowserTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String OPERATOR = "page-operator-token-93c1";
    private int port;
    private String replicaUrl;
    private WebDriver browser;
    private Path reloadDir;

    @Override
    protected String testRoutes() {
        return "test-status-page-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        port = freePort();
        replicaUrl = ordersReplica();
        p.put("test.replica.url", replicaUrl);
        p.put("camel.server.enabled", "true");
        p.put("camel.server.port", String.valueOf(port));
        p.put("syncwarden.api.tokens", "page-ops:operator:" + sha256(OPERATOR));
        // the live reload looks at a copy of routes/, where a test saves a broken file
        reloadDir = copyOfRoutes("status-page-routes");
        p.put("syncwarden.reload.enabled", "true");
        p.put("syncwarden.reload.dir", reloadDir.toString());
        p.put("syncwarden.reload.poll-ms", "100");
        p.put("syncwarden.reload.quiet-ms", "200");
    }

    @Test
    void should_warn_of_a_routes_edit_the_reload_refused() throws Exception {
        Files.writeString(reloadDir.resolve("finale-stock.camel.yaml"), Files.readString(reloadDir.resolve("finale-stock.camel.yaml"))
                .replace("name: keyColumns", "name: keyColumn"));
        browser = browser();
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(45));

        browser.get("http://127.0.0.1:" + port + "/");
        browser.findElement(By.id("token")).sendKeys(OPERATOR);
        browser.findElement(By.cssSelector("#token-form button")).click();

        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("reloads")));
        assertThat(browser.findElement(By.id("reloads")).getText())
                .contains("not applied, the previous version keeps running")
                .contains("finale-stock.camel.yaml:").contains("unknown parameter 'keyColumn'");
    }

    @AfterEach
    void closeBrowser() throws java.io.IOException {
        if (browser != null) {
            browser.quit();
        }
        deleteFolder(reloadDir);
    }



    private static String installed(String env, String path) {
        String given = System.getenv(env);
        String found = given != null && !given.isBlank() ? given : path;
        if (!Files.isExecutable(Path.of(found))) {
            throw new IllegalStateException(found + " is not installed: install the Debian packages chromium and chromium-driver "
                    + "(.ci/run does), or set " + env + " to its path");
        }
        return found;
    }

    private WebDriver browser() throws Exception {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(installed("SYNCWARDEN_CHROMIUM", "/usr/bin/chromium"));
        Path profile = Files.createTempDirectory("chromium-profile");
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new java.io.File(installed("SYNCWARDEN_CHROMEDRIVER", "/usr/bin/chromedriver")))
                .usingAnyFreePort().build();
        return new ChromeDriver(service, options);
    }

    @Test
    void should_show_a_card_per_source_sync_on_click_with_progress_and_estimate_a_backfill() throws Exception {
        // the report answers slowly: the run stays active long enough for the page to show its progress
        upstream.stubFor(any(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(200).withFixedDelay(15000)
                .withHeader("Content-Type", "text/csv").withBody(Fixtures.read("finale/products_stock_report.csv"))));
        fire("page-orders"); // a first run, so the replica source has a pace for the estimate
        browser = browser();
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(45));

        browser.get("http://127.0.0.1:" + port + "/");
        browser.findElement(By.id("token")).sendKeys(OPERATOR);
        browser.findElement(By.cssSelector("#token-form button")).click();

        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("article[data-source='page-orders'] button[data-action='sync']")));
        List<String> cards = browser.findElements(By.cssSelector("article.card")).stream().map(c -> c.getAttribute("data-source")).toList();
        assertThat(cards).containsExactlyInAnyOrder("page-stock", "page-orders");
        assertThat(browser.findElement(By.id("score")).getText()).matches("\\d{1,3}");

        WebElement stock = browser.findElement(By.cssSelector("article[data-source='page-stock']"));
        assertThat(stock.findElement(By.cssSelector("[data-role='last-run']")).getText()).isEqualTo("none");
        stock.findElement(By.cssSelector("button[data-action='sync']")).click();

        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("article[data-source='page-stock'] [data-role='progress']")));
        wait.until(ExpectedConditions.textMatches(By.cssSelector("article[data-source='page-stock'] [data-role='last-run']"),
                java.util.regex.Pattern.compile("run \\d+ success \\(manual\\), 30 read")));

        WebElement orders = browser.findElement(By.cssSelector("article[data-source='page-orders']"));
        orders.findElement(By.cssSelector("button[data-action='backfill']")).click();
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("backfill")));
        setDate("backfill-from", "2026-03-02");
        setDate("backfill-to", "2026-03-03");
        wait.until(ExpectedConditions.textMatches(By.id("backfill-estimate"), java.util.regex.Pattern.compile("About \\d+ rows")));
        assertThat(browser.findElement(By.id("backfill-estimate")).getText()).startsWith("About 48 rows, 2 days");
        assertThat(browser.findElement(By.id("backfill-confirm")).isEnabled()).isTrue();

        Path shot = Path.of("target", "status-page.png");
        Files.createDirectories(shot.getParent());
        Files.write(shot, ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
        assertThat(Files.size(shot)).isGreaterThan(10_000);
    }

    /** Sets a date input the way a person's picker does, and tells the page it changed. */
    private void setDate(String id, String value) {
        ((org.openqa.selenium.JavascriptExecutor) browser).executeScript(
                "const e = document.getElementById(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event('change'));", id, value);
    }
}
