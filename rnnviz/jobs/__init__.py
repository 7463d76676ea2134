"""The app's background jobs (training, download), run without Streamlit."""
