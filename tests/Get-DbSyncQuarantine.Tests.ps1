BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
}

# Which rows get held, and what a retry does with them, is the engine's business (xunit); here: binding and errors.
Describe 'Get-DbSyncQuarantine' {
    BeforeEach {
        $db = Copy-Chinook ("quarantine-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
    }

    It 'lists nothing for a fresh file and never writes to it' {
        $before = Get-FileHashText $db
        Get-DbSyncQuarantine -LiteralPath $db | Should -BeNullOrEmpty
        Get-DbSyncQuarantine -LiteralPath $db -Table 'Tr*' -ConnectionString 'Host=127.0.0.1;Port=1' | Should -BeNullOrEmpty
        Get-ChildItem -LiteralPath $db | Get-DbSyncQuarantine | Should -BeNullOrEmpty
        Get-FileHashText $db | Should -Be $before
    }

    It 'keeps the password of a connection string given as the path out of the What-if and verbose text of -Retry' {
        (Invoke-ChildPwsh "Get-DbSyncQuarantine -Path '$Pg' -Retry -ConnectionString '$Pg' -WhatIf -ErrorAction SilentlyContinue").Output |
            Should -Match 'What if: .*Retry the held rows.* on target ".*Password=\*\*\*;.*"'
        $shown = Get-StreamText { Get-DbSyncQuarantine -Path $Pg -Retry -ConnectionString $Pg -Verbose -ErrorAction SilentlyContinue }
        $shown | Should -Match 'Retry the held rows.* on target ".*Password=\*\*\*;.*"'
        $shown | Should -Not -Match ([regex]::Escape((Get-PgPassword)))
    }

    It 'retries nothing when nothing is held, without asking PostgreSQL' {
        $before = Get-FileHashText $db
        Get-DbSyncQuarantine -LiteralPath $db -Retry -ConnectionString 'Host=127.0.0.1;Port=1;Timeout=1' -ConflictPolicy fail -Schema s -ErrorAction Stop | Should -BeNullOrEmpty
        Get-FileHashText $db | Should -Be $before
    }

    It 'refuses -<Parameter> without -Retry' -ForEach @(
        @{ Parameter = 'Schema'; Value = 'sales' }
        @{ Parameter = 'ConflictPolicy'; Value = 'TargetWins' }
        @{ Parameter = 'NodePartitioned'; Value = 'Basket*' }
        @{ Parameter = 'BatchSize'; Value = 10 }
        @{ Parameter = 'PreserveCase'; Value = $true }
    ) {
        $arguments = @{ LiteralPath = $db; $Parameter = $Value }
        { Get-DbSyncQuarantine @arguments } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.GetDbSyncQuarantineCommand'
    }

    It 'lists the held rows with site-wide defaults for the retry parameters in $PSDefaultParameterValues' {
        $keys = '*-DbSync*:LockTimeout', '*-DbSync*:Schema', 'Get-DbSyncQuarantine:Batch*'
        try {
            $PSDefaultParameterValues['*-DbSync*:LockTimeout'] = 120
            $PSDefaultParameterValues['*-DbSync*:Schema'] = 'held'
            $PSDefaultParameterValues['Get-DbSyncQuarantine:Batch*'] = 10
            Get-DbSyncQuarantine -LiteralPath $db -ErrorAction Stop | Should -BeNullOrEmpty
            # Typed, a retry parameter is still refused without -Retry.
            { Get-DbSyncQuarantine -LiteralPath $db -NodePartitioned 'Basket*' } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.GetDbSyncQuarantineCommand'
            $PSDefaultParameterValues['Disabled'] = $true
            { Get-DbSyncQuarantine -LiteralPath $db -Schema held } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.GetDbSyncQuarantineCommand'
        }
        finally { foreach ($key in @($keys) + 'Disabled') { $PSDefaultParameterValues.Remove($key) } }
    }

    It 'applies the conflict policy rules of Start-DbSync to -Retry' {
        { Get-DbSyncQuarantine -LiteralPath $db -Retry -ConflictPolicy Newest } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.GetDbSyncQuarantineCommand'
        { Get-DbSyncQuarantine -LiteralPath $db -Retry -NewestColumn UpdatedAt } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.GetDbSyncQuarantineCommand'
        { Get-DbSyncQuarantine -LiteralPath $db -Retry -ConflictPolicy Sometimes } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,DbSync.PowerShell.Commands.GetDbSyncQuarantineCommand'
    }

    It 'shows a held conflict''s reason with the cmdlets'' names' {
        $schema = New-TestSchema
        try {
            Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre -ErrorAction Stop | Out-Null
            Invoke-Pg "UPDATE `"$schema`".genre SET name = 'theirs' WHERE genreid = 1"
            Invoke-Sqlite $db "UPDATE Genre SET Name = 'ours' WHERE GenreId = 1"
            Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre -ConflictPolicy Fail -ErrorAction SilentlyContinue | Out-Null
            $held = Get-DbSyncQuarantine -LiteralPath $db -ErrorAction Stop
            $held.Kind | Should -Be 'Conflict'
            $held.Reason | Should -Match 'see Get-DbSyncConflict'
            $held.Reason | Should -Not -Match 'dbsync conflicts'
        }
        finally { Remove-TestSchema $schema }
    }

    It 'shows held values that look like CLI options or commands as they are stored' {
        $schema = New-TestSchema
        try {
            Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -ErrorAction Stop | Out-Null
            Invoke-Sqlite $db "UPDATE Track SET Milliseconds = '--force' WHERE TrackId = 5; UPDATE Track SET Milliseconds = 'see dbsync log' WHERE TrackId = 6"
            Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -ErrorAction SilentlyContinue | Out-Null
            $held = Get-DbSyncQuarantine -LiteralPath $db -ErrorAction Stop | Sort-Object Key
            $held | Should -HaveCount 2
            $stored = Invoke-Sqlite $db "SELECT group_concat(reason, '|') FROM (SELECT reason FROM _dbsync_held ORDER BY key)" -Scalar
            ($held.Reason -join '|') | Should -Be $stored
            $held[0].Reason | Should -Match "the text '--force' is not an integer"
            $held[1].Reason | Should -Match "the text 'see dbsync log' is not an integer"
        }
        finally { Remove-TestSchema $schema }
    }

    It 'throws DbSync.SourceNotFound for a missing file' {
        { Get-DbSyncQuarantine -LiteralPath (Join-Path $TestDrive 'nope.sqlite') } | Should -Throw -ErrorId 'DbSync.SourceNotFound,DbSync.PowerShell.Commands.GetDbSyncQuarantineCommand'
    }

    It 'has help with a synopsis, every parameter and examples' {
        $help = Get-Help Get-DbSyncQuarantine -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.parameters.parameter.name | Should -Contain 'Retry'
        $help.parameters.parameter.name | Should -Contain 'ConflictPolicy'
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
    }
}
