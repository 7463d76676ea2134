"""What the pages draw: Plotly figures and report tables, one module per topic; tests call them
without Streamlit."""
