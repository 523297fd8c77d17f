package io.syncwarden.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A1 ranges, header names, dates and write-back cell expressions. */
class SheetCellsTest {

    @Test
    void should_find_the_first_row_and_column_of_a_range() {
        assertThat(GoogleSheetsSource.startRow("Leads!A1:H30")).isEqualTo(1);
        assertThat(GoogleSheetsSource.startRow("'My leads'!B5:H")).isEqualTo(5);
        assertThat(GoogleSheetsSource.startRow("Leads!A:H")).isEqualTo(1);
        assertThat(GoogleSheetsSource.startRow("Leads")).isEqualTo(1);
        assertThat(SheetWriteBack.startColumn("Leads!C2:H")).isEqualTo(2);
        assertThat(SheetWriteBack.startColumn("Leads!A1:H")).isZero();
        assertThat(SheetWriteBack.startColumn("Leads")).isZero();
        assertThat(SheetWriteBack.columnLetters(0)).isEqualTo("A");
        assertThat(SheetWriteBack.columnLetters(25)).isEqualTo("Z");
        assertThat(SheetWriteBack.columnLetters(26)).isEqualTo("AA");
        assertThat(SheetWriteBack.columnLetters(701)).isEqualTo("ZZ");
        assertThat(SheetWriteBack.a1("Leads", 7, 8)).isEqualTo("Leads!H8");
        assertThat(SheetWriteBack.sheetName("Leads!A1:H")).isEqualTo("Leads");
        assertThat(SheetWriteBack.sheetName("'My leads'!A1:H")).isEqualTo("'My leads'");
        assertThat(SheetWriteBack.sheetName("Leads")).isEqualTo("Leads");
        assertThat(SheetWriteBack.sheetName("A1:H30")).isNull();
    }

    @Test
    void should_turn_header_labels_into_sql_names() {
        assertThat(Tabular.columnName("Lead ID", 1)).isEqualTo("lead_id");
        assertThat(Tabular.columnName("  Créé\nle ", 2)).isEqualTo("cree_le");
        assertThat(Tabular.columnName("2nd phone", 3)).isEqualTo("c_2nd_phone");
        assertThat(Tabular.columnName("中村", 4)).isEqualTo("column_4");
    }

    @Test
    void should_read_displayed_dates_and_serial_numbers() {
        DateTimeFormatter us = DateTimeFormatter.ofPattern("M/d/yyyy", Locale.ROOT);
        assertThat(GoogleSheetsSource.date("3/14/2025", us)).isEqualTo(LocalDate.of(2025, 3, 14));
        assertThat(GoogleSheetsSource.date(new BigDecimal("45730"), us)).isEqualTo(LocalDate.of(2025, 3, 14));
        assertThat(GoogleSheetsSource.date("45730.75", us)).isEqualTo(LocalDate.of(2025, 3, 14));
        assertThat(GoogleSheetsSource.date("", us)).isNull();
        assertThatThrownBy(() -> GoogleSheetsSource.date("14.3.2025", us)).hasMessageContaining("'14.3.2025' is not a date");
        assertThat(GoogleSheetsSource.text(new BigDecimal("1E+3"))).isEqualTo("1000");
    }

    @Test
    void should_evaluate_write_back_cell_expressions() {
        Map<String, Object> booking = Map.of("attendee_name", "Zoë", "created_at", "2025-06-01T13:20:45.551");
        assertThat(SheetWriteBack.value("attendee_name", booking)).isEqualTo("Zoë");
        assertThat(SheetWriteBack.value("'Cal.com", booking)).isEqualTo("Cal.com");
        assertThat(SheetWriteBack.value("created_at|M/d/yyyy", booking)).isEqualTo("6/1/2025");
        assertThat(SheetWriteBack.value("title", booking)).isNull();
    }
}
