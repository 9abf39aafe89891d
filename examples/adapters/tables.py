"""Arrow tables in a tool: a pyarrow.Table when pyarrow is installed, else snakepit's ArrowIPC
(`.schema` parsed, `.buffer` a memoryview over the bytes); both have `.column_names`."""

from snakepit_bridge import tool


@tool
def columns(table) -> list:
    """The column names, as this side reads the schema."""
    return table.column_names


@tool
def same(table):
    """Return the table as it came: it goes back as Arrow IPC."""
    return table
