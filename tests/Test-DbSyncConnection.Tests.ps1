BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
}

Describe 'Test-DbSyncConnection' {
    BeforeEach {
        $schema = New-TestSchema
        $db = Copy-Chinook ("test-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
    }
    AfterEach { Remove-TestSchema $schema }

    It 'returns passing check objects for a good file and server, changing nothing' {
        $before = Get-FileHashText $db
        $checks = Test-DbSyncConnection -LiteralPath $db -ConnectionString $Pg -Schema $schema
        $checks[0].GetType().FullName | Should -Be 'DbSync.Core.Diagnostics.CheckResult'
        $checks.Name | Should -Contain 'Source.File'
        $checks.Name | Should -Contain 'Target.Reachable'
        # The test server's role is a superuser: pushes into Chinook's tables may check their foreign keys themselves.
        ($checks | Where-Object Name -eq 'Target.ForeignKeyChecks').Status.ToString() | Should -Be 'Pass'
        $checks | Where-Object { $_.Status.ToString() -eq 'Fail' } | Should -BeNullOrEmpty
        Get-FileHashText $db | Should -Be $before
        Invoke-Pg "SELECT count(*) FROM pg_namespace WHERE nspname = '$schema'" -Scalar | Should -Be 0
    }

    It 'returns $true with -Quiet when nothing fails' {
        Test-DbSyncConnection -LiteralPath $db -ConnectionString $Pg -Schema $schema -Quiet | Should -BeExactly $true
    }

    It 'fails the authentication check for a wrong password, returns $false with -Quiet, and never shows it' {
        $credential = [pscredential]::new('dbsync', (ConvertTo-SecureString 'Bad-Pass-123' -AsPlainText -Force))
        $checks = Test-DbSyncConnection -LiteralPath $db -ConnectionString (Get-PgWithoutPassword) -Credential $credential
        $failed = $checks | Where-Object { $_.Status.ToString() -eq 'Fail' }
        $failed | Should -Not -BeNullOrEmpty
        $failed.ErrorId | Should -Contain 'DbSync.AuthenticationFailed'
        ($checks | Format-List * | Out-String) | Should -Not -Match 'Bad-Pass-123'
        Test-DbSyncConnection -LiteralPath $db -ConnectionString (Get-PgWithoutPassword) -Credential $credential -Quiet | Should -BeExactly $false
    }

    It 'refuses -Credential without a connection string, instead of skipping the target checks' {
        $credential = [pscredential]::new('dbsync', (ConvertTo-SecureString 'Some-Pass-123' -AsPlainText -Force))
        $saved = $env:DBSYNC_CONNECTION
        $env:DBSYNC_CONNECTION = $null
        try {
            { Test-DbSyncConnection -LiteralPath $db -Credential $credential -Quiet } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.TestDbSyncConnectionCommand'
            { Get-DbSyncStatus -LiteralPath $db -Credential $credential } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.GetDbSyncStatusCommand'
        }
        finally { $env:DBSYNC_CONNECTION = $saved }
    }

    It 'fails the source check for a file that is not SQLite' {
        $text = Join-Path $TestDrive 'notes.sqlite'
        'not a database' | Set-Content $text
        $check = Test-DbSyncConnection -LiteralPath $text | Where-Object Name -eq 'Source.File'
        $check.Status.ToString() | Should -Be 'Fail'
        $check.ErrorId | Should -Be 'DbSync.SourceNotSqlite'
        Test-DbSyncConnection -LiteralPath $text -Quiet | Should -BeExactly $false
    }
}
