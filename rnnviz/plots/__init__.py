"""Plotly figure builders, one module per page topic; tests call them without Streamlit."""
